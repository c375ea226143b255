"""Always-valid comparisons of two variants: a mixture sequential probability ratio test
(mSPRT, Johari, Pekelis and Walsh, "Always valid inference", 2017) on the difference of
two means, with its always-valid p-value.

A fixed-horizon test read at every interval rejects a true null far more often than its
alpha says (1,000 looks at alpha 0.05 reject an A/A test in roughly half the runs); the
mSPRT's p-value may be read after every observation and still rejects a true null with
probability at most alpha. With little traffic it simply waits: the p-value falls only as
evidence accumulates, which is what a deadline is then for (the rollout decides what to
do when evidence never comes).

The statistic, for the difference ``d = mean_b - mean_a`` with variance
``V = var_a / n_a + var_b / n_b`` and a normal mixture of prior variance ``tau2`` over the
effect::

    Lambda = sqrt(V / (V + tau2)) * exp(tau2 * (d - theta0)^2 / (2 V (V + tau2)))

and the always-valid p-value is the running minimum of ``1 / Lambda`` (capped at 1).
Proportions (error rates, conversions) are means of 0/1 observations.

>>> from random import Random
>>> rng = Random(1)
>>> test = MeanComparison(tau2=0.001)
>>> for _ in range(4000):
...     test.add_a(1.0 if rng.random() < 0.02 else 0.0)
...     test.add_b(1.0 if rng.random() < 0.06 else 0.0)
>>> test.p_value < 0.05, round(test.difference, 3)
(True, 0.046)
>>> aa = MeanComparison(tau2=0.001)
>>> for _ in range(4000):
...     aa.add_a(1.0 if rng.random() < 0.02 else 0.0)
...     aa.add_b(1.0 if rng.random() < 0.02 else 0.0)
>>> aa.p_value > 0.05
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Moments:
    """Count, mean and sum of squared deviations (Welford): one pass, numerically stable."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def merge(self, n: int, mean: float, m2: float) -> None:
        """Fold in a batch summarised as its count, mean and sum of squared deviations
        (Chan, Golub and LeVeque's parallel combination): the same moments as adding its
        values one by one, up to rounding.

        >>> one, batched = Moments(), Moments()
        >>> for x in (1.0, 2.0, 4.0, 7.0):
        ...     one.add(x)
        >>> batched.add(1.0)
        >>> batched.merge(3, 13.0 / 3, 38.0 / 3)  # 2, 4, 7: mean 13/3, m2 38/3
        >>> batched.n, round(batched.mean, 6) == round(one.mean, 6), round(one.m2, 4)
        (4, True, 21.0)
        """
        if n < 0 or m2 < 0:
            raise ValueError(f"a batch has n >= 0 and m2 >= 0, not n={n}, m2={m2}")
        if n == 0:
            return
        total = self.n + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.n * n / total
        self.mean += delta * n / total
        self.n = total

    @property
    def variance(self) -> float:
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0


@dataclass
class MeanComparison:
    """Variant b against variant a. ``tau2`` is the mixture's prior variance of the effect
    (of the order of the squared effect worth detecting); ``theta0`` the null difference;
    ``min_n`` observations per side before any p-value below 1 (variance estimates of a
    handful of points are not evidence)."""

    tau2: float
    theta0: float = 0.0
    min_n: int = 30
    a: Moments = field(default_factory=Moments)
    b: Moments = field(default_factory=Moments)
    _p: float = 1.0

    def add_a(self, x: float) -> None:
        self.a.add(x)
        self._update()

    def add_b(self, x: float) -> None:
        self.b.add(x)
        self._update()

    def add_summary_a(self, n: int, mean: float, m2: float) -> None:
        """A batch of a's observations as (count, mean, sum of squared deviations)."""
        self.a.merge(n, mean, m2)
        self._update()

    def add_summary_b(self, n: int, mean: float, m2: float) -> None:
        """A batch of b's observations as (count, mean, sum of squared deviations)."""
        self.b.merge(n, mean, m2)
        self._update()

    @property
    def difference(self) -> float:
        return self.b.mean - self.a.mean

    @property
    def p_value(self) -> float:
        """Always valid: may be read at any time; never increases."""
        return self._p

    def log_likelihood_ratio(self) -> float:
        if self.a.n < self.min_n or self.b.n < self.min_n:
            return 0.0
        v = self.a.variance / self.a.n + self.b.variance / self.b.n
        if v <= 0.0:
            # Both sides constant: any difference at all is the whole story.
            return math.inf if self.difference != self.theta0 else 0.0
        d = self.difference - self.theta0
        return 0.5 * math.log(v / (v + self.tau2)) + self.tau2 * d * d / (2 * v * (v + self.tau2))

    def _update(self) -> None:
        llr = self.log_likelihood_ratio()
        if llr > 0.0:
            self._p = min(self._p, math.exp(-llr))

    def interval(self, alpha: float = 0.05) -> tuple[float, float]:
        """An always-valid (1 - alpha) confidence sequence for the difference: the values
        of theta0 the test would not reject now.

        >>> t = MeanComparison(tau2=0.01)
        >>> for i in range(200):
        ...     t.add_a(float(i % 2)); t.add_b(float(i % 2) + 0.3)
        >>> low, high = t.interval(); low < 0.3 < high
        True
        """
        if self.a.n < self.min_n or self.b.n < self.min_n:
            return -math.inf, math.inf
        v = self.a.variance / self.a.n + self.b.variance / self.b.n
        if v <= 0.0:
            return self.difference, self.difference
        # Lambda(theta0) = 1/alpha solved for |d - theta0|.
        width_sq = (2 * v * (v + self.tau2) / self.tau2) * (
            math.log(1 / alpha) - 0.5 * math.log(v / (v + self.tau2))
        )
        width = math.sqrt(max(width_sq, 0.0))
        return self.difference - width, self.difference + width
