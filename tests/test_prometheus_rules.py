"""The shipped Prometheus rules and Grafana dashboards, checked by Prometheus's own tools:
``promtool check rules``, ``promtool test rules`` (an alert that fires and resolves), and
every dashboard query parsed by a real Prometheus (no Kafka)."""

from __future__ import annotations

import json
import subprocess

import pytest

from services import NAMES
from watchkeeper.devstack import dashboards

from .prometheus_support import ROOT, RULES, PrometheusServer, grafana_expr, tool

RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yml"))
BOARDS = ROOT / "deploy" / "grafana" / "dashboards"


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(tool("promtool")), *args], capture_output=True, text=True, timeout=120
    )


def test_promtool_checks_the_shipped_rules() -> None:
    assert RULES, "no rule files in deploy/prometheus/rules"
    done = promtool("check", "rules", *map(str, RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(RULES)


def test_promtool_unit_tests_fire_and_resolve_the_alerts() -> None:
    assert RULE_TESTS
    done = promtool("test", "rules", *map(str, RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_rejects_a_broken_rule(tmp_path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: rate(x[5m]\n")
    done = promtool("check", "rules", str(bad))
    assert done.returncode != 0
    assert "parse error" in (done.stdout + done.stderr)


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_files_are_what_the_metrics_build(name) -> None:
    path = BOARDS / f"{name}.json"
    assert path.read_text() == dashboards.render(name), (
        f"{path} is stale: run python -m watchkeeper.devstack.dashboards"
    )
    board = json.loads(path.read_text())
    assert board["schemaVersion"] >= 36
    variable = board["templating"]["list"][0]
    assert (variable["name"], variable["type"]) == ("datasource", "datasource")
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and all(
            t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]
        )


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    server = PrometheusServer.start(tmp_path_factory.mktemp("prom"), {})
    yield server
    server.stop()


def test_every_dashboard_query_parses_in_prometheus(prometheus) -> None:
    checked = 0
    for name in NAMES:
        for expr in dashboards.queries(json.loads((BOARDS / f"{name}.json").read_text())):
            prometheus.query(grafana_expr(expr))  # raises with Prometheus's reason on 400
            checked += 1
    print(f"{checked} dashboard queries parsed")
    assert checked > 100


def test_prometheus_reports_a_bad_query_with_its_reason(prometheus) -> None:
    with pytest.raises(AssertionError, match="bad_data"):
        prometheus.query("sum by (model (rate(x[1m]))")
