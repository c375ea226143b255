"""Sample ratio mismatch: the variants' counts against the split they were assigned by.
A split of 50/50 that delivers 52/48 over a hundred thousand users means the assignment
or the logging is broken, and no verdict of the test can be trusted: the test stops.

Pearson's chi-square against the expected shares, with a strict threshold (0.001, as the
trusted A/B tools use) since it is looked at continuously.

>>> check([5_000, 5_000], [0.5, 0.5]).mismatch
False
>>> found = check([52_000, 48_000], [0.5, 0.5]); found.mismatch, found.p_value < 1e-10
(True, True)
>>> check([10, 0], [0.5, 0.5]).mismatch   # too few to say anything
False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import chi2

THRESHOLD = 0.001
MIN_EXPECTED = 100  # per variant, before the check speaks


@dataclass(frozen=True)
class Srm:
    mismatch: bool
    p_value: float
    observed: tuple[int, ...]
    expected: tuple[float, ...]


def check(counts: Sequence[int], shares: Sequence[float], threshold: float = THRESHOLD) -> Srm:
    if len(counts) != len(shares) or len(counts) < 2:
        raise ValueError("one count per variant, at least two variants")
    total_share = sum(shares)
    if total_share <= 0 or any(s < 0 for s in shares):
        raise ValueError(f"shares must be non-negative and not all zero: {list(shares)}")
    n = sum(counts)
    expected = tuple(n * s / total_share for s in shares)
    live = [(c, e) for c, e in zip(counts, expected, strict=True) if e > 0]
    if any(e < MIN_EXPECTED for _, e in live) or len(live) < 2:
        return Srm(False, 1.0, tuple(counts), expected)
    statistic = sum((c - e) ** 2 / e for c, e in live)
    p = float(chi2.sf(statistic, len(live) - 1))
    return Srm(p < threshold, p, tuple(counts), expected)
