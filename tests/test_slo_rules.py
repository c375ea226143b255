"""The rule file: every mistake stops start-up with the file, the line and the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.slo.rules import ConfigFileError, load, load_text, parse

REPO = Path(__file__).resolve().parent.parent


def parse_text(text: str):
    return parse(load_text(text, "rules.yaml"), window_ms=10_000)


def test_the_shipped_rule_file_is_valid() -> None:
    rules = load(REPO / "deploy" / "slo-rules.yaml", window_ms=10_000)
    kinds = {r.alert: r.kind for r in rules.rules}
    assert kinds == {
        "HighLatencyP99": "threshold",
        "HighErrorRate": "threshold",
        "LowAvailability": "threshold",
        "LatencyDegraded": "baseline",
        "ErrorBudgetBurn": "burn_rate",
        "ModelDegraded": "threshold",
    }
    assert {r.alert: r for r in rules.rules}["ModelDegraded"].for_windows == 12  # 2m of 10 s
    assert rules.horizon_ms(10_000) == 6 * 3_600_000


def test_percentages_views_and_defaults() -> None:
    rules = parse_text("""
defaults:
  min_count: 7
  labels: {team: risk}
rules:
  - alert: Slow
    expr: latency_p95_ms >= 250.5
    view: 5m
    labels: {tier: gold}
  - alert: Errors
    expr: error_rate > 2.5%
    min_count: 50
    match: {model: fraud}
""").rules
    assert (rules[0].op, rules[0].threshold, rules[0].view_ms, rules[0].min_count) == (
        ">=",
        250.5,
        300_000,
        7,
    )
    assert rules[0].labels == {"team": "risk", "tier": "gold"}
    assert (rules[1].threshold, rules[1].min_count, rules[1].match) == (
        0.025,
        50,
        {"model": "fraud"},
    )


def test_latency_slo_adds_a_threshold_the_windows_count() -> None:
    rules = parse_text("""
rules:
  - alert: LatencyBudget
    slo: {objective: 99%, bad: latency_ms > 300}
    burn_rate: [{long: 1h, short: 5m, factor: 14.4}]
""")
    assert rules.slow_thresholds == (300.0,)
    assert rules.rules[0].bad == "slow:0"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("rules:\n  - alert: A\n    expr: latency_p99 > 3\n", 3, "unknown figure 'latency_p99'"),
        ("rules:\n  - alert: A\n    expr: latency_p99_ms >> 3\n", 3, "cannot read expr"),
        (
            "rules:\n  - alert: A\n    expr: error_rate > 1%\n    for: two\n",
            4,
            "for must be a whole number >= 1",
        ),
        (
            "rules:\n  - alert: A\n    expr: error_rate > 1%\n    view: 7s\n",
            4,
            "not a whole number of 10s windows",
        ),
        (
            "rules:\n  - alert: A\n    expr: error_rate > 1%\n    view: soon\n",
            4,
            "not a duration: 'soon'",
        ),
        (
            "rules:\n  - alert: A\n    expr: error_rate > 1%\n    severty: page\n",
            4,
            "unknown key 'severty'",
        ),
        ("rules:\n  - expr: error_rate > 1%\n", 2, "every rule needs an alert name"),
        (
            "rules:\n  - alert: A\n    expr: error_rate > 1%\n    match: {team: x}\n",
            4,
            "match can select on model, version, variant, region",
        ),
        (
            "rules:\n  - alert: A\n    expr: error_rate > 1%\n"
            "    annotations: {summary: '{modle}'}\n",
            4,
            "annotation template '{modle}' is invalid",
        ),
        (
            "rules:\n  - alert: B\n    slo: {objective: 120%}\n"
            "    burn_rate: [{long: 1h, short: 5m, factor: 2}]\n",
            3,
            "objective must be between 0 and 100 %",
        ),
        (
            "rules:\n  - alert: B\n    slo: {objective: 99%}\n    burn_rate:\n"
            "      - {long: 5m, short: 1h, factor: 2}\n",
            5,
            "short window must be shorter",
        ),
        (
            "rules:\n  - alert: A\n    expr: error_rate > 1%\n"
            "  - alert: A\n    expr: error_rate > 2%\n",
            4,
            "repeats the rule on line 2",
        ),
        (
            "rules:\n  - alert: A\n    expr: error_rate > 1%\n    expr: error_rate > 2%\n",
            4,
            "duplicate key 'expr'",
        ),
        ("rules: [\n", 2, "not valid YAML"),
        ("rule:\n  - alert: A\n", 1, "unknown key 'rule'"),
    ],
)
def test_mistakes_name_the_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_text(text)
    assert info.value.line == line, str(info.value)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"rules.yaml:{line}: ")


def test_a_bad_rule_file_stops_the_service_before_it_touches_kafka(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - alert: A\n    expr: p99 > 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "services.slo"],
        env={
            "WK_SLO_RULES": str(path),
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert f"{path}:3: unknown figure 'p99'" in result.stderr
