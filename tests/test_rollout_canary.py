"""A canary step on simulated streams: bad canaries rolled back, good ones advanced, and a
decision at every traffic level (the deadline's policy when evidence never comes)."""

from __future__ import annotations

from random import Random

import pytest

from services.rollout.canary import Check, Step


def run(rate_per_s: int, p_canary: float, seed: int, on_deadline: str = "rollback"):
    rng = Random(seed)
    step = Step([Check("error_rate", margin=0.01)], min_samples=100, deadline_s=900,
                on_deadline=on_deadline)  # fmt: skip
    for second in range(1, 10_000):
        for _ in range(rate_per_s):
            step.observe("error_rate", "baseline", float(rng.random() < 0.01))
            step.observe("error_rate", "canary", float(rng.random() < p_canary))
        verdict = step.decide(elapsed_s=second)
        if verdict.action != "wait":
            return verdict, second
    raise AssertionError("no decision: a step must never wait forever")


@pytest.mark.parametrize("rate", [30, 100])
def test_a_bad_canary_is_rolled_back_and_a_good_one_advanced(rate: int) -> None:
    bad = [run(rate, 0.03, seed) for seed in range(60)]
    good = [run(rate, 0.01, 1000 + seed) for seed in range(60)]
    assert sum(v.action == "rollback" for v, _ in bad) == 60
    assert all("worse than the baseline" in v.reason for v, _ in bad)
    false_rollbacks = sum(v.action == "rollback" for v, _ in good)
    assert false_rollbacks <= 3, false_rollbacks  # alpha 0.05 at most
    assert sum(v.action == "advance" for v, _ in good) >= 50


@pytest.mark.parametrize("on_deadline", ["rollback", "advance"])
def test_one_request_a_second_reaches_a_decision_by_the_deadline(on_deadline: str) -> None:
    verdict, second = run(1, 0.01, 5, on_deadline)
    assert (verdict.action, second) == (on_deadline, 900)
    assert "deadline 900 s reached without evidence" in verdict.reason


def test_bad_step_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one check"):
        Step([])
    with pytest.raises(ValueError, match="margin must be above 0"):
        Step([Check("error_rate", margin=0)])
    with pytest.raises(ValueError, match="on_deadline"):
        Step([Check("error_rate", margin=0.01)], on_deadline="halt")
    with pytest.raises(ValueError, match="baseline or canary"):
        Step([Check("error_rate", margin=0.01)]).observe("error_rate", "shadow", 1.0)
