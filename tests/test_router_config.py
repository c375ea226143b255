"""The routing file: what loads, and every mistake named with its line; a bad file stops
``python -m services.router`` with exit code 2 before it touches Kafka."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.router.routing_file import ConfigFileError, load, loads, parse_duration

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
            _broken("    webhook_configs:", "    telegram_configs: []\n    webhook_configs:"),
            14,
            "not supported",
        ),
        (GOOD + "templates: []\n", 24, "templates"),
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


FULL = """\
route:
  receiver: default
  group_by: [alertname, model]
  escalation: page
  routes:
    - matchers: ['team="risk"']
      receiver: risk
      mute_time_intervals: [nights]
      active_time_intervals: [weekdays]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [model]
  - source_match: {alertname: ModelDown}
    target_match_re: {alertname: 'Slow.*'}
time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: "22:00", end_time: "24:00"}]
        location: Europe/Berlin
  - name: weekdays
    time_intervals:
      - weekdays: ['monday:friday']
        days_of_month: ['1:5', '-1']
        months: ['january:march', '12']
        years: ['2026']
flap_detection: {max_transitions: 4, window: 10m}
escalation_policies:
  - name: page
    repeat: 1
    ack_timeout: 30m
    steps:
      - notify: [risk]
        wait: 5m
      - notify: [default, risk]
        wait: 10m
      - open_incident: true
        notify: [default]
receivers:
  - name: default
    fallback: risk
    rate_limit: {count: 10, per: 1m}
    webhook_configs:
      - url: http://127.0.0.1:9999/alerts
        signing_secrets: ['${SECRET}']
    email_configs:
      - to: 'a@example.com, b@example.com'
        from: router@example.com
        smarthost: smtp.example.com:587
        auth_username: router
        auth_password: ${SMTP_PASSWORD}
        subject: '{{ status | upper }}: {{ summary }}'
  - name: risk
    slack_configs:
      - api_url: ${SLACK_URL}
        title: '{{ common_labels.alertname }}'
    pagerduty_configs:
      - routing_key: ${PD_KEY}
        severity_map: {page: critical, ticket: info}
    opsgenie_configs:
      - api_key: ${OG_KEY}
        priority: P2
        responders: [{type: team, name: risk}]
"""
FULL_ENV = {
    "SECRET": "whsec_" + "A" * 32,
    "SMTP_PASSWORD": "pw",
    "SLACK_URL": "https://hooks.slack.test/T/B/x",
    "PD_KEY": "k" * 32,
    "OG_KEY": "o" * 36,
}


def test_every_section_loads() -> None:
    routing = loads(FULL, "router.yaml", env=FULL_ENV)
    risk = routing.route.routes[0]
    assert risk.opts.escalation == "page"  # inherited from the root
    assert (risk.opts.mute_time_intervals, risk.opts.active_time_intervals) == (
        ("nights",),
        ("weekdays",),
    )
    assert len(routing.inhibit_rules) == 2 and routing.inhibit_rules[0].equal == ("model",)
    policy = routing.policies["page"]
    assert (policy.repeat, policy.ack_timeout_s, policy.stages) == (1, 1800.0, 5)
    assert policy.incident is not None and policy.incident.notify == ("default",)
    assert (routing.flap.max_transitions, routing.flap.window_s) == (4, 600.0)
    options = routing.receiver_options["default"]
    assert (options.fallback, options.rate_limit.count, options.rate_limit.period_s) == (
        "risk",
        10,
        60.0,
    )
    kinds = [c.id for c in routing.receivers["risk"]]
    assert kinds == ["risk/slack/0", "risk/pagerduty/0", "risk/opsgenie/0"]
    email = routing.receivers["default"][1]
    assert email.to == ("a@example.com", "b@example.com") and email.smarthost[1] == 587
    assert "SMTP_PASSWORD" not in repr(email) and "pw" not in repr(email).split("'pw'")[0][-3:]


def test_a_secret_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "pd"
    secret.write_text("f" * 32 + "\n")
    env = {**FULL_ENV, "PD_KEY_FILE": str(secret)}
    del env["PD_KEY"]
    routing = loads(FULL, "router.yaml", env=env)
    assert routing.receivers["risk"][1].routing_key == "f" * 32


def _full_broken(old: str, new: str) -> str:
    assert old in FULL
    return FULL.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            _full_broken("mute_time_intervals: [nights]", "mute_time_intervals: [nites]"),
            8,
            "unknown time interval",
        ),
        (_full_broken("  escalation: page", "  escalation: pager"), 4, "unknown escalation policy"),
        (_full_broken("equal: [model]", "equal: [model-x]"), 13, "invalid label name"),
        (
            _full_broken("location: Europe/Berlin", "location: Mars/Olympus"),
            19,
            "unknown time zone",
        ),
        (_full_broken('end_time: "24:00"', 'end_time: "25:00"'), 19, "not a time of day"),
        (_full_broken("'monday:friday'", "'funday'"), 23, "unknown weekday"),
        (_full_broken("max_transitions: 4", "max_transitions: 0"), 27, "at least 1"),
        (_full_broken("notify: [risk]\n", "notify: [nobody]\n"), 33, "unknown receiver"),
        (_full_broken("        wait: 10m\n", ""), 35, "needs a wait"),
        (
            _full_broken(
                "        notify: [default]\nreceivers",
                "        notify: [default]\n        wait: 1m\nreceivers",
            ),
            39,
            "nothing to wait for",
        ),
        (_full_broken("fallback: risk", "fallback: nobody"), 41, "unknown fallback"),
        (_full_broken("fallback: risk", "fallback: default"), 41, "its own fallback"),
        (_full_broken("count: 10", "count: 0"), 42, "at least 1"),
        (_full_broken("'${SECRET}'", "'whsec_notbase64!'"), 45, "base64"),
        (_full_broken("'${SECRET}'", "'whsec_QUFB'"), 45, "24 to 64 bytes"),
        (
            _full_broken("smarthost: smtp.example.com:587", "smarthost: smtp.example.com"),
            49,
            "host:port",
        ),
        (
            _full_broken("'{{ status | upper }}: {{ summary }}'", "'{{ stauts }}'"),
            52,
            "unknown name 'stauts'",
        ),
        (
            _full_broken("severity_map: {page: critical", "severity_map: {page: urgent"),
            59,
            "critical, error",
        ),
        (_full_broken("priority: P2", "priority: P9"), 62, "P1 .. P5"),
        (_full_broken("routing_key: ${PD_KEY}", "service_key: x"), 58, "Events API v1"),
    ],
)
def test_new_sections_name_their_mistakes(text: str, line: int, reason: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        loads(text, "router.yaml", env=FULL_ENV)
    assert (info.value.line, reason in info.value.reason) == (line, True), str(info.value)


def test_a_secret_never_appears_in_an_error() -> None:
    leaked = "whsec_" + "c2VjcmV0" * 2  # valid base64, too short
    with pytest.raises(ConfigFileError) as info:
        loads(FULL, "router.yaml", env={**FULL_ENV, "SECRET": leaked})
    assert leaked not in str(info.value) and "c2VjcmV0" not in str(info.value)
    bad_slack = "ftp://hooks.slack.test/T/B/secret-part"
    with pytest.raises(ConfigFileError) as info:
        loads(FULL, "router.yaml", env={**FULL_ENV, "SLACK_URL": bad_slack})
    assert "secret-part" not in str(info.value) and "<secret>" in str(info.value)
