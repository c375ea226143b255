"""Canary signals: batched evidence equals one-by-one; a p99 +30 % canary is rolled back;
A/A passes; a shifted score distribution is caught; checks on unknown metrics refused."""

from __future__ import annotations

import json
from random import Random

import numpy as np
import pytest

from services.rollout.canary import Check, Step
from services.rollout.sequential import MeanComparison
from services.rollout.signals import CanaryAnalysis


def test_batched_and_one_by_one_give_the_same_interval() -> None:
    rng = Random(4)
    one, batched = MeanComparison(tau2=1e-4), MeanComparison(tau2=1e-4)
    for _ in range(50):
        a = [float(rng.random() < 0.02) for _ in range(40)]
        b = [float(rng.random() < 0.05) for _ in range(40)]
        for x in a:
            one.add_a(x)
        for x in b:
            one.add_b(x)
        for values, add in ((a, batched.add_summary_a), (b, batched.add_summary_b)):
            mean = sum(values) / len(values)
            add(len(values), mean, sum((x - mean) ** 2 for x in values))
    assert (one.a.n, one.b.n) == (batched.a.n, batched.b.n) == (2000, 2000)
    assert one.interval() == pytest.approx(batched.interval(), rel=1e-9)
    step = Step([Check("error_rate", margin=0.01)], min_samples=10)
    step.observe_summary("error_rate", "canary", 100, 0.05, 100 * 0.05 * 0.95)
    assert step.comparison("error_rate").b.n == 100


def run(slower: float, seed: int, score_shift: float = 0.0, rate: int = 100):
    rng = np.random.default_rng(seed)
    analysis = CanaryAnalysis(
        [
            Check("error_rate", margin=0.01),
            Check("latency_p99", margin=0.01),
            Check("score_drift", margin=0.05),
        ],
        min_samples=500,
        deadline_s=3600,
    )
    for second in range(1, 3601):
        for arm, factor, shift in (("baseline", 1.0, 0.0), ("canary", slower, score_shift)):
            latencies = rng.lognormal(np.log(100.0), 0.55, rate) * factor
            scores = rng.beta(2.0 + shift, 5.0, rate)
            analysis.observe_many(arm, rng.random(rate) >= 0.005, latencies, scores)
        verdict = analysis.decide(elapsed_s=second)
        if verdict.action != "wait":
            return verdict, analysis
    raise AssertionError("no decision by the deadline")


def test_a_p99_thirty_percent_slower_canary_is_rolled_back() -> None:
    verdicts = [run(1.3, seed)[0] for seed in range(20)]
    assert [(v.action, v.check) for v in verdicts] == [("rollback", "latency_p99")] * 20


def test_a_over_a_advances() -> None:
    verdicts = [run(1.0, 100 + seed)[0] for seed in range(20)]
    assert sum(v.action == "advance" for v in verdicts) >= 19  # alpha 0.05 per check


def test_a_shifted_score_distribution_is_drift() -> None:
    verdicts = [run(1.0, 200 + seed, score_shift=0.6)[0] for seed in range(10)]
    assert [(v.action, v.check) for v in verdicts] == [("rollback", "score_drift")] * 10


def test_snapshot_is_json() -> None:
    _, analysis = run(1.3, 7)
    view = json.loads(json.dumps(analysis.snapshot()))
    p99 = view["checks"]["latency_p99"]
    assert p99["state"] == "worse" and p99["interval"][0] > 0
    assert set(view["checks"]) == {"error_rate", "latency_p99", "score_drift"}


def test_per_request_observe_and_declared_metrics() -> None:
    analysis = CanaryAnalysis(
        [Check("quality", margin=0.05, higher_is_better=True), Check("error_rate", margin=0.01)],
        metrics=["quality"],
        min_samples=5,
    )
    for i in range(10):
        analysis.observe("baseline", "OK", 10.0)
        analysis.observe("canary", "ERROR" if i == 0 else "OK", 10.0)
        analysis.observe_metric("canary", "quality", 0.9)
    view = analysis.snapshot()["checks"]
    assert view["error_rate"]["n"] == {"baseline": 10, "canary": 10}
    assert view["error_rate"]["estimate"] == pytest.approx(0.1)
    assert view["quality"]["n"] == {"baseline": 0, "canary": 10}
    with pytest.raises(ValueError, match="not one of the declared"):
        analysis.observe_metric("canary", "revenue", 1.0)
    with pytest.raises(ValueError, match="baseline or canary"):
        analysis.observe("shadow", "OK", 1.0)


def test_a_check_on_a_metric_nobody_emits_is_refused() -> None:
    with pytest.raises(ValueError, match="a check on a metric nobody emits: 'latency_avg'"):
        CanaryAnalysis([Check("latency_avg", margin=1.0)])
    with pytest.raises(ValueError, match="nobody emits"):
        CanaryAnalysis([Check("revenue", margin=1.0)], metrics=["quality"])
