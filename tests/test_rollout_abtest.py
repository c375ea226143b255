"""A/B tests: known effects are found with intervals that cover them, A/A tests do not
decide, guardrails stop a winner that harms, SRM stops the test, several variants, and
bad setups are refused with the reason."""

from __future__ import annotations

import json
import math
from random import Random

import numpy as np
import pytest

from loadtest.rollout_aa import aa_rates
from services.rollout.abtest import Experiment, Guardrail, Metric
from services.rollout.abtest_verdict import Verdict

RUNS = 100
MAX_LOOKS = 40


def run_conversion(rates: dict[str, float], seed: int, per_look: int = 500) -> Verdict:
    """Users arrive per variant in batches of ``per_look``, one observe per user; the
    verdict is read after every batch until it stops or MAX_LOOKS pass."""
    rng = Random(seed)
    shares = [100 / len(rates)] * len(rates)
    if len(rates) == 3:
        shares = [34, 33, 33]
    test = Experiment(list(rates), shares, Metric("signup"))
    for _ in range(MAX_LOOKS):
        for variant, rate in rates.items():
            for _ in range(per_look):
                test.observe_exposure(variant)
                test.observe(variant, "signup", 1.0 if rng.random() < rate else 0.0)
        verdict = test.verdict()
        if verdict.stopped:
            return verdict
    return verdict


def test_a_known_effect_is_decided_with_an_interval_covering_it() -> None:
    right = 0
    for seed in range(RUNS):
        verdict = run_conversion({"control": 0.10, "new": 0.13}, seed)
        new = verdict.variant("new").primary
        assert new is not None
        low, high = new.interval
        if verdict.state == "decided" and verdict.winner == "new" and low <= 0.03 <= high:
            right += 1
    assert right >= 95, right


def test_a_over_a_never_decides() -> None:
    rng = np.random.default_rng(11)
    decided = 0
    for _ in range(RUNS):
        test = Experiment(["control", "same"], [50, 50], Metric("signup"))
        for _ in range(20):
            for variant in ("control", "same"):
                test.observe_exposure(variant, 500)
                test.observe_many(variant, "signup", rng.random(500) < 0.10)
            if test.verdict().state == "decided":
                decided += 1
                break
    assert decided <= 5, decided


def test_the_aa_benchmark_keeps_alpha_where_a_peeked_t_test_does_not() -> None:
    ours, naive = aa_rates(tests=200, looks=20, per_look=200, seed=5)
    assert ours <= 0.05, ours
    assert naive > 3 * 0.05, naive


def test_a_numeric_metric_lower_is_better() -> None:
    rng = np.random.default_rng(4)
    metric = Metric("checkout_s", kind="mean", higher_is_better=False, mde=1.0)
    test = Experiment(["control", "fast"], [50, 50], metric)
    for _ in range(MAX_LOOKS):
        for variant, mean in (("control", 30.0), ("fast", 29.0)):
            test.observe_exposure(variant, 200)
            test.observe_many(variant, "checkout_s", rng.normal(mean, 8.0, 200))
        verdict = test.verdict()
        if verdict.stopped:
            break
    assert (verdict.state, verdict.winner) == ("decided", "fast")
    fast = verdict.variant("fast").primary
    assert fast is not None and fast.status == "better"
    assert fast.interval[0] <= -1.0 <= fast.interval[1] < 0
    assert fast.lift is not None and fast.lift < 0


def test_one_observation_at_a_time_equals_a_batch() -> None:
    values = [float(v) for v in np.random.default_rng(9).normal(5.0, 2.0, 500)]
    one = Experiment(["a", "b"], [50, 50], Metric("m", kind="mean", mde=1.0), min_n=10)
    many = Experiment(["a", "b"], [50, 50], Metric("m", kind="mean", mde=1.0), min_n=10)
    for i, v in enumerate(values):
        one.observe("a" if i % 2 else "b", "m", v)
    many.observe_many("a", "m", values[1::2][:100])
    many.observe_many("a", "m", values[1::2][100:])
    many.observe_many("b", "m", values[0::2])
    a, b = one.verdict().variant("b").primary, many.verdict().variant("b").primary
    assert a is not None and b is not None and (a.n, b.n) == (250, 250)
    assert a.mean == pytest.approx(b.mean) and a.p_value == pytest.approx(b.p_value)
    assert a.interval == pytest.approx(b.interval)


def guarded_run(latency_ms: dict[str, float], seed: int) -> Verdict:
    rng = np.random.default_rng(seed)
    test = Experiment(
        ["control", "new"],
        [50, 50],
        Metric("signup"),
        guardrails=[Guardrail("latency_ms", margin=10.0)],
    )
    for _ in range(MAX_LOOKS):
        for variant, rate in (("control", 0.10), ("new", 0.16)):
            test.observe_exposure(variant, 500)
            test.observe_many(variant, "signup", rng.random(500) < rate)
            test.observe_many(variant, "latency_ms", rng.normal(latency_ms[variant], 40, 500))
        verdict = test.verdict()
        if verdict.stopped:
            return verdict
    return verdict


def test_a_guardrail_violation_stops_a_winner() -> None:
    # Latency 15 ms worse against a margin of 10: the evidence for that takes a few looks,
    # by when the primary metric (10 % -> 16 %) has usually won already.
    primary_won = 0
    for seed in range(20):
        verdict = guarded_run({"control": 120.0, "new": 135.0}, seed)
        assert (verdict.state, verdict.winner) == ("guardrail_failed", None), verdict.reason
        new = verdict.variant("new")
        (latency,) = new.guardrails
        assert latency.status == "failed" and latency.interval[0] > 10.0
        assert "guardrail latency_ms" in verdict.reason and "margin 10" in verdict.reason
        primary_won += new.primary is not None and new.primary.status == "better"
    assert primary_won == 17


def test_a_winner_within_its_guardrail_is_decided() -> None:
    verdict = guarded_run({"control": 120.0, "new": 121.0}, seed=2)
    assert (verdict.state, verdict.winner) == ("decided", "new"), verdict.reason
    (latency,) = verdict.variant("new").guardrails
    assert latency.status == "within_margin" and latency.interval[1] < 10.0


def test_a_55_45_split_of_a_50_50_test_is_srm_and_stays_stopped() -> None:
    test = Experiment(["control", "new"], [50, 50], Metric("signup"))
    test.observe_exposure("control", 5_500)
    test.observe_exposure("new", 4_500)
    verdict = test.verdict()
    assert verdict.state == "srm" and verdict.srm_p_value < 1e-10
    assert "5,500/4,500" in verdict.reason
    test.observe_exposure("new", 1_000)  # balanced again: the data was still broken
    again = test.verdict()
    assert again.state == "srm" and again.srm_p_value > 0.001


def test_three_variants_bonferroni() -> None:
    verdict = run_conversion({"control": 0.10, "same": 0.10, "better": 0.14}, seed=3)
    assert verdict.alpha_per_comparison == pytest.approx(0.025)
    assert (verdict.state, verdict.winner) == ("decided", "better"), verdict.reason
    assert "97.5 %" in verdict.reason
    assert [v.name for v in verdict.variants] == ["control", "same", "better"]
    assert verdict.variant("control").primary is None


def test_every_variant_worse_keeps_control() -> None:
    verdict = run_conversion({"control": 0.15, "b": 0.10, "c": 0.10}, seed=4)
    assert (verdict.state, verdict.winner) == ("decided", "control"), verdict.reason
    assert [v.primary and v.primary.status for v in verdict.variants] == [None, "worse", "worse"]


def test_a_decision_is_final() -> None:
    test = Experiment(["a", "b"], [50, 50], Metric("m", kind="mean", mde=1.0))
    test.observe_many("a", "m", [0.0, 2.0] * 100)
    test.observe_many("b", "m", [5.0, 7.0] * 100)
    assert (test.verdict().state, test.verdict().winner) == ("decided", "b")
    test.observe_many("b", "m", [-50.0, -52.0] * 2000)  # b now looks far worse
    verdict = test.verdict()
    assert (verdict.state, verdict.winner, verdict.looks) == ("decided", "b", 3)


def test_the_verdict_is_json_even_before_any_evidence() -> None:
    test = Experiment(["a", "b"], [50, 50], Metric("signup"), [Guardrail("errors", 0.01)])
    test.observe("b", "signup", 1)  # control's mean is 0: no relative lift
    early = json.loads(json.dumps(test.verdict().to_dict(), allow_nan=False))
    assert early["state"] == "running"
    b = early["variants"][1]
    assert b["primary"]["interval"] == [None, None] and b["primary"]["lift"] is None
    assert b["guardrails"][0]["status"] == "pending"
    assert early["srm_p_value"] == 1.0 and early["looks"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variants": ["a"], "shares": [100]}, "at least 2 variants"),
        ({"shares": [50, 40]}, "add up to 100, not 90"),
        ({"shares": [50, 30, 20]}, "one share per variant"),
        ({"shares": [100, 0]}, "above 0"),
        ({"variants": ["a", "a"]}, "distinct"),
        ({"alpha": 1.5}, "alpha"),
        ({"guardrails": [Guardrail("signup", 1.0)]}, "metric names must be distinct"),
    ],
)
def test_bad_setups_are_refused(kwargs: dict[str, object], message: str) -> None:
    setup: dict[str, object] = {"variants": ["a", "b"], "shares": [50, 50]}
    setup.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Experiment(primary=Metric("signup"), **setup)  # type: ignore[arg-type]


def test_bad_metrics_and_observations_are_refused() -> None:
    with pytest.raises(ValueError, match="give mde"):
        Metric("revenue", kind="mean")
    with pytest.raises(ValueError, match="kind is one of"):
        Metric("revenue", kind="ratio")
    with pytest.raises(ValueError, match="margin must be >= 0"):
        Guardrail("latency_ms", margin=-1)
    test = Experiment(["a", "b"], [50, 50], Metric("signup"), [Guardrail("latency_ms", 10)])
    with pytest.raises(ValueError, match="unknown metric 'revenue'"):
        test.observe("a", "revenue", 1.0)
    with pytest.raises(ValueError, match="unknown variant 'c'"):
        test.observe_exposure("c")
    with pytest.raises(ValueError, match=r"signup \(conversion\): not a valid observation: 0.5"):
        test.observe("a", "signup", 0.5)
    with pytest.raises(ValueError, match="not a valid observation"):
        test.observe_many("a", "latency_ms", [1.0, math.nan])
