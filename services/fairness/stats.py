"""Confidence intervals for rates, their differences and their ratios.

Fairness verdicts compare selection rates (and true/false positive rates) between groups.
A point estimate on a small group swings widely, so every verdict here rests on an
interval, not on the point:

* a single rate: the **Wilson** score interval (good coverage near 0 and 1, never outside
  [0, 1], unlike the Wald interval);
* a difference of two independent rates: **Newcombe's hybrid score** interval (method 10
  of Newcombe 1998, built from the two Wilson intervals);
* a ratio of two rates (disparate impact): the **Katz log** interval, with 0.5 added to
  each count of a pair with a zero cell (the "adjusted log" interval), so a group with no
  favourable decision still gets a finite interval.

Several groups mean several comparisons: ``z_value`` splits the error rate over them
(Bonferroni), so adding groups does not add false alarms.

>>> z = z_value(0.95)
>>> round(z, 4)
1.96
>>> [round(b, 4) for b in wilson(81, 263, z)]
[0.2553, 0.3662]
>>> [round(b, 4) for b in newcombe(56, 70, 48, 80, z)]
[0.2, 0.0524, 0.3339]
"""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()


def z_value(confidence: float, comparisons: int = 1) -> float:
    """The two-sided normal quantile for ``confidence``, Bonferroni-adjusted.

    >>> round(z_value(0.95, comparisons=3), 4)   # 0.05 split over 3 comparisons
    2.394
    """
    alpha = (1.0 - confidence) / max(1, comparisons)
    return _NORMAL.inv_cdf(1.0 - alpha / 2.0)


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of the rate ``k / n`` (``(0, 1)`` when ``n`` is 0).

    >>> [round(b, 4) for b in wilson(0, 10, 1.959964)]
    [0.0, 0.2775]
    """
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denominator = 1 + z2 / n
    low = 0.0 if k == 0 else (centre - spread) / denominator
    high = 1.0 if k == n else (centre + spread) / denominator
    return low, high


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float) -> tuple[float, float, float]:
    """``p1 - p2`` with Newcombe's hybrid score interval: (difference, low, high).

    >>> [round(b, 4) for b in newcombe(9, 10, 3, 10, 1.959964)]
    [0.6, 0.1705, 0.809]
    """
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def ratio(k1: int, n1: int, k2: int, n2: int, z: float) -> tuple[float, float, float] | None:
    """``p1 / p2`` with the Katz log interval: (ratio, low, high); None when ``p2`` is 0.

    >>> [round(b, 4) for b in ratio(27, 122, 44, 487, 1.959964)]
    [2.4495, 1.5837, 3.7887]
    >>> [round(b, 4) for b in ratio(0, 40, 20, 40, 1.959964)]   # adjusted: 0.5 per cell
    [0.0, 0.0015, 0.3899]
    """
    if n1 <= 0 or n2 <= 0 or k2 <= 0:
        return None
    point = (k1 / n1) / (k2 / n2)
    if k1 == 0 or k1 == n1 or k2 == n2:
        # A zero cell makes the log variance infinite; half a count per cell keeps it finite.
        a, b, c, d = k1 + 0.5, n1 - k1 + 0.5, k2 + 0.5, n2 - k2 + 0.5
        centre = math.log((a / (a + b)) / (c / (c + d)))
        se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    else:
        centre = math.log(point)
        se = math.sqrt(1 / k1 - 1 / n1 + 1 / k2 - 1 / n2)
    return point, math.exp(centre - z * se), math.exp(centre + z * se)
