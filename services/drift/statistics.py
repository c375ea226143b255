"""Distances between a window of production data and its reference, as plain functions.

The thresholds that usually go with them: PSI 0.1 (warn) and 0.2 (drift); a normalized
Wasserstein distance or a Jensen-Shannon distance of 0.1.

>>> import numpy as np
>>> psi(np.array([0.25, 0.25, 0.25, 0.25]), np.array([250, 250, 250, 250]))
0.0
>>> round(psi(np.array([0.25, 0.25, 0.25, 0.25]), np.array([100, 200, 300, 400])), 3)
0.228
>>> ref = np.linspace(0.0, 1.0, 101)           # reference quantiles of U(0, 1)
>>> round(wasserstein_normed(ref, np.linspace(0.1, 1.1, 101), ref_std=0.2887), 3)
0.346
>>> round(js_distance(np.array([0.5, 0.5]), np.array([90, 10])), 3)
0.383
"""

from __future__ import annotations

import numpy as np

# The bare survival function: scipy.stats.chi2.sf costs ~150 us of argument checking per call.
from scipy.special import chdtrc

EPSILON = 1e-4  # floor for empty bins: PSI and JS are undefined on zeros
QUANTILE_GRID = np.linspace(0.0, 1.0, 101)


def proportions(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total <= 0:
        return np.full(len(counts), 1.0 / len(counts))
    return np.maximum(counts / total, EPSILON)


def psi(reference: np.ndarray, counts: np.ndarray) -> float:
    """Population stability index of ``counts`` against the ``reference`` proportions."""
    expected = np.maximum(reference, EPSILON)
    actual = proportions(counts)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def js_distance(reference: np.ndarray, counts: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, so in [0, 1])."""
    p = np.maximum(reference, EPSILON)
    q = proportions(counts)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    divergence = 0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m))
    return float(np.sqrt(max(divergence, 0.0)))


def wasserstein_normed(
    ref_quantiles: np.ndarray, window_quantiles: np.ndarray, ref_std: float
) -> float:
    """Earth mover's distance between two 1-D distributions given by their quantiles on
    the same grid, divided by the reference's standard deviation (scale-free, as
    Evidently's 'normed' Wasserstein)."""
    distance = float(np.mean(np.abs(window_quantiles - ref_quantiles)))
    if ref_std <= 0:
        return 0.0 if distance == 0 else float("inf")
    return distance / ref_std


def chi_square_p(reference: np.ndarray, counts: np.ndarray, reference_size: int) -> float:
    """p-value of Pearson's chi-square test that the window and the reference sample come
    from one distribution: how likely a difference this large is by chance alone.

    Two samples, not a fit to fixed proportions: a reference of a few thousand rows is
    itself noisy, and treating it as exact makes the test cry wolf.

    >>> chi_square_p(np.array([0.5, 0.5]), np.array([50, 50]), 1000)
    1.0
    >>> chi_square_p(np.array([0.5, 0.5]), np.array([600, 400]), 1000) < 1e-4
    True
    """
    total = counts.sum()
    if total == 0 or len(counts) < 2 or reference_size <= 0:
        return 1.0
    table = np.vstack([reference * reference_size, counts]).astype(float)
    used = table.sum(axis=0) > 0
    table = table[:, used]
    if table.shape[1] < 2:
        return 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return float(chdtrc(table.shape[1] - 1, statistic))


def robust_wasserstein(ref_quantiles: np.ndarray, window_quantiles: np.ndarray) -> float:
    """Mean distance between the 5th..95th percentiles, in units of the reference's
    interquartile range (as a standard deviation): Wasserstein without the tails, which on
    heavy-tailed data make the plain normed distance cry wolf.

    >>> ref = np.quantile(np.arange(1000.0), QUANTILE_GRID)
    >>> robust_wasserstein(ref, ref)
    0.0
    """
    spread = (ref_quantiles[75] - ref_quantiles[25]) / 1.349
    distance = float(np.mean(np.abs(window_quantiles[5:96] - ref_quantiles[5:96])))
    if spread <= 0:
        return 0.0 if distance == 0 else float("inf")
    return float(distance / spread)


def sorted_quantiles(ordered: np.ndarray) -> np.ndarray:
    """Quantiles on QUANTILE_GRID of an already sorted array (nearest rank): what
    np.quantile gives, without its generic machinery, for the window sizes used here."""
    positions = np.rint(QUANTILE_GRID * (len(ordered) - 1)).astype(np.int64)
    return ordered[positions]


def sorted_bin_counts(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``bin_counts`` for an already sorted array."""
    cuts = np.searchsorted(ordered, edges, side="left")
    return np.diff(np.concatenate(([0], cuts, [len(ordered)])))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin; ``edges`` are the interior edges (k - 1 of them for k bins)."""
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
