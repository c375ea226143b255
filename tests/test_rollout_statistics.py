"""The rollout analysis: always-valid tests keep their error rate when read after every
window, where a fixed-horizon test read as often does not; effects are found; SRM."""

from __future__ import annotations

import math
from random import Random

from scipy.stats import norm

from services.rollout import srm
from services.rollout.sequential import MeanComparison

WINDOWS, PER_WINDOW, RUNS = 50, 40, 300


def simulate(p_a: float, p_b: float, seed: int) -> tuple[bool, bool]:
    """(mSPRT rejected at any look, a fixed-horizon z-test rejected at any look)."""
    rng = Random(seed)
    test = MeanComparison(tau2=0.0025)
    naive = False
    for _ in range(WINDOWS):
        for _ in range(PER_WINDOW):
            test.add_a(1.0 if rng.random() < p_a else 0.0)
            test.add_b(1.0 if rng.random() < p_b else 0.0)
        v = test.a.variance / test.a.n + test.b.variance / test.b.n
        if v > 0 and 2 * norm.sf(abs(test.difference) / math.sqrt(v)) < 0.05:
            naive = True
    return test.p_value < 0.05, naive


def test_a_over_a_peeked_at_every_window() -> None:
    results = [simulate(0.1, 0.1, seed) for seed in range(RUNS)]
    ours = sum(r for r, _ in results) / RUNS
    naive = sum(n for _, n in results) / RUNS
    assert ours <= 0.05, ours
    assert naive > 2 * max(ours, 0.05), (ours, naive)  # what peeking does to a t-test


def test_a_real_effect_is_found() -> None:
    found = sum(simulate(0.1, 0.16, seed)[0] for seed in range(100)) / 100
    assert found >= 0.8, found


def test_little_traffic_is_not_evidence() -> None:
    test = MeanComparison(tau2=0.0025)
    for _ in range(10):
        test.add_a(0.0)
        test.add_b(1.0)
    assert test.p_value == 1.0  # below min_n: wait for evidence, decide nothing


def test_sample_ratio_mismatch() -> None:
    assert srm.check([50_400, 49_600], [0.5, 0.5]).mismatch is False
    assert srm.check([51_000, 49_000], [0.5, 0.5]).mismatch is True
    assert srm.check([9_000, 1_000], [0.9, 0.1]).mismatch is False
    assert srm.check([9_000, 700], [0.9, 0.1]).mismatch is True
