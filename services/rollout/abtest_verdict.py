"""What an A/B test says when it is read: a frozen verdict, JSON-able for the rollout
service's verdict API. The experiment itself (setup, observations, the statistics) is
``abtest``; this module only holds and presents its results.

Numbers follow what GrowthBook, Statsig and Eppo show on a result row: each variant's n
and mean beside control's, the absolute effect (``variant - control`` in the metric's
units), the relative lift (``effect / control mean``), the always-valid interval of the
effect and the always-valid p-value, and the experiment's sample-ratio-mismatch p-value.
No "chance to win": that is a Bayesian posterior, and these intervals are frequentist.

>>> row = Comparison("latency_ms", n=400, mean=132.0, control_n=410, control_mean=120.0,
...                  interval=(4.5, 19.5), p_value=0.004, status="failed")
>>> row.effect, round(row.lift, 3)
(12.0, 0.1)
>>> row.to_dict()["interval"]
[4.5, 19.5]
>>> Comparison("x", 10, 1.0, 10, 0.0, (-math.inf, math.inf), 1.0, "pending").to_dict()["lift"]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

STATES = ("running", "decided", "guardrail_failed", "srm")
# Per comparison: the primary metric's outcome, or a guardrail's.
PRIMARY_STATUSES = ("inconclusive", "better", "worse")
GUARDRAIL_STATUSES = ("pending", "within_margin", "failed")


def _finite(x: float) -> float | None:
    """JSON has no infinity: an interval not yet bounded (too few observations) is null."""
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Comparison:
    """One variant against control on one metric, at one look."""

    metric: str
    n: int  # the variant's observations of the metric
    mean: float
    control_n: int
    control_mean: float
    interval: tuple[float, float]  # always valid, of the effect, at the corrected alpha
    p_value: float  # always valid; the null: no effect (primary), the margin (guardrail)
    status: str  # PRIMARY_STATUSES or GUARDRAIL_STATUSES

    @property
    def effect(self) -> float:
        return self.mean - self.control_mean

    @property
    def lift(self) -> float | None:
        """Relative to control; undefined when control's mean is 0."""
        return self.effect / self.control_mean if self.control_mean != 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "n": self.n,
            "mean": self.mean,
            "control_n": self.control_n,
            "control_mean": self.control_mean,
            "effect": self.effect,
            "lift": self.lift,
            "interval": [_finite(self.interval[0]), _finite(self.interval[1])],
            "p_value": self.p_value,
            "status": self.status,
        }


@dataclass(frozen=True)
class VariantResult:
    """A variant's exposures and, for a treatment, its comparisons with control (none for
    control itself)."""

    name: str
    exposures: int
    primary: Comparison | None = None
    guardrails: tuple[Comparison, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "exposures": self.exposures,
            "primary": self.primary.to_dict() if self.primary else None,
            "guardrails": [g.to_dict() for g in self.guardrails],
        }


@dataclass(frozen=True)
class Verdict:
    """The experiment at one look. ``winner`` is set when ``state`` is ``decided``: the
    variant that beat control (or ``control`` itself when every variant lost to it)."""

    state: str
    reason: str
    winner: str | None
    primary: str
    alpha: float
    alpha_per_comparison: float  # Bonferroni: alpha / (variants - 1)
    srm_p_value: float
    looks: int
    variants: tuple[VariantResult, ...]

    @property
    def stopped(self) -> bool:
        return self.state != "running"

    def variant(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"no variant {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "winner": self.winner,
            "primary": self.primary,
            "alpha": self.alpha,
            "alpha_per_comparison": self.alpha_per_comparison,
            "srm_p_value": self.srm_p_value,
            "looks": self.looks,
            "variants": [v.to_dict() for v in self.variants],
        }


def describe(c: Comparison, alpha: float) -> str:
    """A comparison in words, as a result row reads.

    >>> describe(Comparison("signup", 5000, 0.131, 5000, 0.1, (0.012, 0.05), 3e-4, "better"),
    ...          0.05)
    'signup +0.031 (+31.0 %), always-valid 95 % interval +0.012 to +0.05, p = 0.0003'
    """
    lift = f" ({c.lift:+.1%})".replace("%", " %") if c.lift is not None else ""
    low, high = c.interval
    if math.isfinite(low) and math.isfinite(high):
        interval = f"always-valid {100 * (1 - alpha):.4g} % interval {low:+.4g} to {high:+.4g}"
    else:
        interval = f"no interval yet ({c.control_n}/{c.n} observations)"
    return f"{c.metric} {c.effect:+.4g}{lift}, {interval}, p = {c.p_value:.2g}"
