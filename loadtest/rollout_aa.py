"""A/A tests read at every interval: how often the A/B verdict (``services.rollout.abtest``)
ever says ``decided`` when both variants are the same, beside how often a fixed-horizon
two-sample t-test read as often ever rejects.

Each test is a conversion of 10 % in both variants, 50/50, ``per_look`` users per variant
between looks; after each batch both are read. The t-test promises 5 % at one look and
delivers far more when read at every one; the always-valid verdict keeps its alpha.

``python -m loadtest.rollout_aa`` prints the two rates for the defaults (1,000 tests of 50
looks of 200 users per variant: a few seconds). The rollout benchmark calls ``aa_rates``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.stats import ttest_ind

from services.rollout.abtest import Experiment, Metric

RATE = 0.10  # the conversion rate of both variants
ALPHA = 0.05
VARIANTS = ("control", "treatment")


def aa_rates(
    tests: int = 1000, looks: int = 50, per_look: int = 200, seed: int = 1
) -> tuple[float, float]:
    """(share of A/A tests our verdict ever called ``decided``, share a t-test at 0.05 ever
    rejected), both read after every look.

    >>> ours, naive = aa_rates(tests=200, looks=20, per_look=100, seed=2)
    >>> ours <= 0.05 < naive
    True
    """
    if tests < 1 or looks < 1 or per_look < 1:
        raise ValueError(f"tests, looks and per_look must be >= 1: {tests}, {looks}, {per_look}")
    rng = np.random.default_rng(seed)
    # All the data at once as int8 (1,000 x 2 x 10,000 is 20 MB): the t-test needs every
    # observation at every look, our verdict only each look's batch.
    data = (rng.random((tests, 2, looks * per_look)) < RATE).astype(np.int8)
    experiments = [
        Experiment(VARIANTS, (50, 50), Metric("conversion"), alpha=ALPHA) for _ in range(tests)
    ]
    decided = np.zeros(tests, dtype=bool)
    rejected = np.zeros(tests, dtype=bool)
    for look in range(looks):
        start, end = look * per_look, (look + 1) * per_look
        for i, experiment in enumerate(experiments):
            if decided[i]:
                continue  # a decided test has stopped: "ever decided" is already true
            for side, variant in enumerate(VARIANTS):
                experiment.observe_exposure(variant, per_look)
                experiment.observe_many(variant, "conversion", data[i, side, start:end])
            decided[i] = experiment.verdict().state == "decided"
        with np.errstate(invalid="ignore", divide="ignore"):  # an all-0 sample: p is nan
            p = ttest_ind(data[:, 0, :end], data[:, 1, :end], axis=1).pvalue
        rejected |= np.nan_to_num(p, nan=1.0) < ALPHA
    return float(decided.mean()), float(rejected.mean())


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m loadtest.rollout_aa   (no arguments)", file=sys.stderr)
        return 2
    start = time.monotonic()
    ours, naive = aa_rates()
    print(
        f"1,000 A/A tests read at 50 looks: ours decided {ours:.1%}, "
        f"t-test rejected {naive:.1%} ({time.monotonic() - start:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
