"""The routing file: what loads, and every mistake named with its line; a bad file stops
``python -m services.router`` with exit code 2 before it touches Kafka."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.router.configfile import ConfigFileError, load, loads, parse_duration

REPO = Path(__file__).resolve().parent.parent

GOOD = """\
route:
  receiver: default
  group_by: [alertname, model]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['team="risk"', 'severity=~"page|critical"']
      receiver: risk-oncall
      continue: true
      group_wait: 0s
receivers:
  - name: default
    webhook_configs:
      - url: http://127.0.0.1:9999/alerts
        send_resolved: true
        timeout: 10s
  - name: risk-oncall
    webhook_configs:
      - url: ${RISK_URL}
        send_resolved: false
        max_alerts: 20
      - url: ${BACKUP_URL:-http://backup.example:8080/hook}
"""


def test_the_example_from_the_docs_loads() -> None:
    routing = loads(GOOD, env={"RISK_URL": "https://oncall.example/risk"})
    risk = routing.route.routes[0]
    assert risk.opts.receiver == "risk-oncall" and risk.continue_
    assert risk.opts.group_by == ("alertname", "model")
    primary, backup = routing.receivers["risk-oncall"]
    assert (primary.url, primary.send_resolved, primary.max_alerts) == (
        "https://oncall.example/risk",
        False,
        20,
    )
    assert (backup.url, backup.id) == ("http://backup.example:8080/hook", "risk-oncall/webhook/1")
    default = routing.receivers["default"][0]
    assert (default.send_resolved, default.timeout_s) == (True, 10.0)


def test_the_shipped_deploy_file_loads() -> None:
    routing = load(REPO / "deploy" / "router.yaml", env={})
    assert set(routing.receivers) == {"default", "risk-oncall"}


@pytest.mark.parametrize(
    ("text", "duration"),
    [("0s", 0.0), ("0", 0.0), ("90s", 90.0), ("1h30m", 5400.0), ("2d", 172800.0), ("1w", 604800.0)],
)
def test_prometheus_durations(text: str, duration: float) -> None:
    assert parse_duration(text) == duration


def _error(text: str, **env: str) -> ConfigFileError:
    with pytest.raises(ConfigFileError) as info:
        loads(text, "router.yaml", env={"RISK_URL": "http://h/x", **env})
    return info.value


def _broken(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (_broken("  group_wait: 30s", "  group_wiat: 30s"), 4, "unknown key 'group_wiat'"),
        (_broken("receiver: risk-oncall", "receiver: risk-on-call"), 9, "unknown receiver"),
        (_broken("group_interval: 5m", "group_interval: 5 min"), 5, "not a duration"),
        (_broken("group_interval: 5m", "group_interval: 0s"), 5, "more than 0"),
        (_broken("repeat_interval: 4h", "repeat_interval: 1.5h"), 6, "not a duration"),
        (_broken('page|critical"', 'page|(critical"'), 8, "bad regular expression"),
        (_broken("'team=\"risk\"'", '\'team="ri"sk"\''), 8, "unescaped double quote"),
        (_broken("name: risk-oncall", "name: default"), 18, "defined twice"),
        (_broken("      continue: true", "      continue: maybe"), 10, "true or false"),
        (_broken("url: ${RISK_URL}", "url: ${NOT_SET}"), 20, "NOT_SET is not set"),
        (_broken("url: http://127.0.0.1", "url: ftp://127.0.0.1"), 15, "http:// or https://"),
        (
            _broken("        timeout: 10s", "        timeout: 10s\n        retries: 3"),
            18,
            "'retries'",
        ),
        (_broken("group_by: [alertname, model]", "group_by: [model, model]"), 3, "twice"),
        (_broken("group_by: [alertname, model]", "group_by: ['...', model]"), 3, "'...'"),
        (_broken("group_by: [alertname, model]", "group_by: [model-name]"), 3, "label name"),
        (_broken("  group_wait: 30s", "  group_wait: 30s\n  group_wait: 1s"), 5, "twice"),
        (_broken("  receiver: default", "  receiver: default\n  continue: true"), 3, "root"),
        (
            _broken("  receiver: default", "  receiver: default\n  matchers: ['a=\"b\"']"),
            3,
            "cannot have matchers",
        ),
        (
            _broken("    webhook_configs:", "    slack_configs: []\n    webhook_configs:"),
            14,
            "only",
        ),
        (GOOD + "inhibit_rules: []\n", 24, "inhibition"),
        (GOOD.replace("route:\n  receiver: default\n", "route:\n"), 2, "needs a receiver"),
        (_broken("  routes:\n", "  routes:\n    - [not, a, mapping]\n"), 8, "mapping"),
        ("route: [\n", 2, "not valid YAML"),
        ("", 1, "empty"),
    ],
)
def test_mistakes_name_their_line(text: str, line: int, reason: str) -> None:
    error = _error(text)
    assert (error.line, error.path) == (line, "router.yaml"), str(error)
    assert reason in error.reason, str(error)
    assert str(error).startswith(f"router.yaml:{line}: ")


def test_a_missing_file_is_named() -> None:
    with pytest.raises(ConfigFileError, match=r"nowhere\.yaml: cannot read"):
        load("/nowhere.yaml")


def test_a_bad_file_stops_start_up_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(_broken("receiver: risk-oncall", "receiver: nobody"))
    env = {
        **os.environ,
        "WK_ROUTER_CONFIG": str(path),
        "RISK_URL": "http://127.0.0.1:1/x",
        # Nothing listens there: the file must be refused before Kafka is ever asked.
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "services.router"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    error = next(line for line in lines if line["level"] == "error")
    assert f"{path}:9: unknown receiver 'nobody'" in error["msg"]
    assert (error["file"], error["line"]) == (str(path), 9)
