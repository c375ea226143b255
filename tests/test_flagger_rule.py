"""The benchmark's model of Flagger's canary analysis: promote, rollback, no-values halt."""

from __future__ import annotations

import pytest

from loadtest.flagger_rule import FlaggerRule


def ticks(rule: FlaggerRule, n: int, requests: int, errors: int, p99: float | None):
    return [rule.tick(requests, errors, p99) for _ in range(n)]


def test_passing_intervals_walk_the_weight_up_then_promote() -> None:
    rule = FlaggerRule(step_weight=10, max_weight=50)
    weights = []
    for _ in range(5):
        assert rule.tick(600, 0, 100.0) == "wait"
        weights.append(rule.weight)
    assert weights == [10, 20, 30, 40, 50]
    assert rule.tick(600, 0, 100.0) == "promote"


def test_threshold_failed_checks_roll_back_and_passes_do_not_reset_them() -> None:
    rule = FlaggerRule(threshold=3)
    assert ticks(rule, 3, 600, 0, 100.0) == ["wait"] * 3  # weight 10 -> 30
    assert ticks(rule, 2, 600, 0, 900.0) == ["wait"] * 2  # p99 above 500 ms
    assert rule.tick(600, 0, 100.0) == "wait"  # a pass: failed stays 2
    assert (rule.failed, rule.tick(600, 60, 100.0)) == (2, "wait")  # 90 % success
    assert rule.tick(600, 0, 100.0) == "rollback"


def test_no_values_halt_or_count_as_failures() -> None:
    halted = FlaggerRule()
    assert set(ticks(halted, 1000, 0, 0, None)) == {"wait"}
    assert (halted.weight, halted.failed) == (10, 0)
    counted = FlaggerRule(no_values_fail=True, threshold=5)
    assert ticks(counted, 7, 0, 0, None)[-1] == "rollback"


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="step_weight"):
        FlaggerRule(step_weight=60, max_weight=50)
