"""An A/B test decided on the stream: two or more variants (the first is control) with
declared traffic shares, one primary metric, optional guardrail metrics, read at any
time without inflating false positives.

Each variant is compared with control by the mixture SPRT of ``sequential`` (always-valid
p-value and confidence sequence of the effect ``variant - control``), at alpha divided
by the number of comparisons with control (Bonferroni). Every ``verdict()`` is a look:
the evidence of all looks is carried forward (the running minimum of the p-value, the
running intersection of the intervals), so looking more often never costs a false
positive -- the confidence sequence holds at all times at once.

States (``abtest_verdict.STATES``):

- ``running``: no verdict yet; keep the split.
- ``decided``: a variant beat control on the primary metric with always-valid evidence
  and every guardrail of it is proven within its margin (the winner), or every variant
  lost to control (the winner is ``control``).
- ``guardrail_failed``: a variant is worse than control on a guardrail by more than the
  guardrail's margin, with evidence; stopped, whatever the primary metric says.
- ``srm``: the exposures do not match the declared shares (``srm.check``, chi-square
  p < 0.001): assignment or logging is broken, no number can be trusted; stopped.

``srm`` overrides any other state at any look; otherwise the first of ``decided`` and
``guardrail_failed`` reached is final (the numbers keep updating beneath it).

A conversion from 10 % to 13 %, read after every 500 users per variant:

>>> from random import Random
>>> rng = Random(3)
>>> test = Experiment(["control", "new"], [50, 50], Metric("signup", mde=0.03))
>>> while (verdict := test.verdict()).state == "running":
...     for variant, rate in (("control", 0.10), ("new", 0.13)):
...         test.observe_exposure(variant, 500)
...         test.observe_many(variant, "signup", [float(rng.random() < rate)
...                                               for _ in range(500)])
>>> verdict.state, verdict.winner, verdict.looks
('decided', 'new', 5)
>>> new = verdict.variant("new").primary
>>> new.n, round(new.effect, 4), round(new.lift, 2), new.p_value < 0.05
(2000, 0.0315, 0.33, True)
>>> low, high = new.interval; low > 0 and low < 0.03 < high
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import srm
from .abtest_verdict import Comparison, VariantResult, Verdict, describe
from .sequential import MeanComparison, Moments

KINDS = ("conversion", "mean")
Guards = tuple[Comparison, ...]
Final = tuple[str, str, str | None]  # a final state, its reason, the winner
DEFAULT_CONVERSION_MDE = 0.02  # two points of conversion


@dataclass(frozen=True)
class Metric:
    """The primary metric. ``kind``: ``conversion`` (a 0/1 per exposure, from feedback) or
    ``mean`` (any number). ``mde``: the absolute effect worth detecting, in the metric's
    units; the mixture's prior variance is ``mde**2`` (the test is most sensitive to
    effects of about that size; any size is still detected, given data). Required for a
    ``mean`` metric, which has no natural scale; a conversion defaults to 0.02."""

    name: str
    kind: str = "conversion"
    higher_is_better: bool = True
    mde: float | None = None

    def __post_init__(self) -> None:
        _check_metric(self.name, self.kind, self.mde, required=self.kind == "mean")

    @property
    def tau2(self) -> float:
        return (self.mde if self.mde is not None else DEFAULT_CONVERSION_MDE) ** 2


@dataclass(frozen=True)
class Guardrail:
    """A metric a variant must not make worse than control by more than ``margin`` (in
    the metric's units, >= 0). ``higher_is_better`` is the metric's direction (latency,
    error rate: False, the default). ``mde`` defaults to the margin."""

    name: str
    margin: float
    kind: str = "mean"
    higher_is_better: bool = False
    mde: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.margin) and self.margin >= 0):
            raise ValueError(f"guardrail {self.name!r}: the margin must be >= 0, not {self.margin}")
        _check_metric(self.name, self.kind, self.mde, required=self.margin == 0)

    @property
    def tau2(self) -> float:
        return (self.mde if self.mde is not None else self.margin) ** 2

    @property
    def boundary(self) -> float:
        """The effect (``variant - control``) at which the variant is exactly ``margin``
        worse: the null the guardrail's test is against."""
        return self.margin if not self.higher_is_better else -self.margin


def _check_metric(name: str, kind: str, mde: float | None, required: bool) -> None:
    if not name:
        raise ValueError("a metric needs a name")
    if kind not in KINDS:
        raise ValueError(f"metric {name!r}: kind is one of {', '.join(KINDS)}, not {kind!r}")
    if mde is None and required:
        raise ValueError(f"metric {name!r}: give mde, the effect worth detecting in its units")
    if mde is not None and not (math.isfinite(mde) and mde > 0):
        raise ValueError(f"metric {name!r}: mde must be above 0, not {mde}")


@dataclass
class _Evidence:
    """One variant against control on one metric, carried across looks."""

    p: float = 1.0
    low: float = -math.inf
    high: float = math.inf
    status: str = ""  # "" until the evidence decides; then final


@dataclass
class Experiment:
    """``variants[0]`` is control; ``shares`` are percentages adding to 100; ``min_n`` the
    observations per side of a metric before its test speaks (a variance from a handful
    of points is not evidence)."""

    variants: Sequence[str]
    shares: Sequence[float]
    primary: Metric
    guardrails: Sequence[Guardrail] = ()
    alpha: float = 0.05
    min_n: int = 100
    _moments: dict[tuple[str, str], Moments] = field(init=False, repr=False, default_factory=dict)
    _exposures: dict[str, int] = field(init=False, repr=False, default_factory=dict)
    _evidence: dict[tuple[str, str], _Evidence] = field(
        init=False, repr=False, default_factory=dict
    )
    _looks: int = field(init=False, repr=False, default=0)
    _final: Final | None = field(init=False, repr=False, default=None)
    _srm: str = field(init=False, repr=False, default="")  # the reason, once one was seen

    def __post_init__(self) -> None:
        self.variants = tuple(self.variants)
        self.shares = tuple(float(s) for s in self.shares)
        self.guardrails = tuple(self.guardrails)
        if len(self.variants) < 2:
            raise ValueError(f"an experiment needs at least 2 variants, got {len(self.variants)}")
        if len(set(self.variants)) != len(self.variants) or not all(self.variants):
            raise ValueError(f"variant names must be distinct and non-empty: {self.variants}")
        if len(self.shares) != len(self.variants):
            raise ValueError(
                f"one share per variant: {len(self.shares)} shares, {len(self.variants)} variants"
            )
        if any(not (math.isfinite(s) and s > 0) for s in self.shares):
            raise ValueError(f"every share must be above 0: {list(self.shares)}")
        if not math.isclose(sum(self.shares), 100.0, abs_tol=1e-9):
            raise ValueError(f"shares must add up to 100, not {sum(self.shares):g}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, not {self.alpha}")
        if self.min_n < 2:
            raise ValueError(f"min_n must be at least 2, not {self.min_n}")
        names = [self.primary.name, *(g.name for g in self.guardrails)]
        if len(set(names)) != len(names):
            raise ValueError(f"metric names must be distinct: {names}")
        self._metrics: dict[str, Metric | Guardrail] = {
            m.name: m for m in (self.primary, *self.guardrails)
        }
        self._margins = {g.name: g.margin for g in self.guardrails}
        for v in self.variants:
            self._exposures[v] = 0
            for m in names:
                self._moments[(v, m)] = Moments()
                if v != self.control:
                    self._evidence[(v, m)] = _Evidence()

    @property
    def control(self) -> str:
        return self.variants[0]

    @property
    def treatments(self) -> tuple[str, ...]:
        return tuple(self.variants[1:])

    @property
    def alpha_per_comparison(self) -> float:
        return self.alpha / len(self.treatments)

    # -- observations --------------------------------------------------------------------

    def observe_exposure(self, variant: str, count: int = 1) -> None:
        """``count`` units assigned to ``variant`` and exposed (what SRM is checked on)."""
        self._check_variant(variant)
        if count < 0:
            raise ValueError(f"an exposure count is >= 0, not {count}")
        self._exposures[variant] += count

    def observe(self, variant: str, metric: str, value: float) -> None:
        """One observation: a 0/1 for a conversion, any finite number for a mean."""
        kind = self._check(variant, metric)
        value = float(value)
        if not math.isfinite(value) or (kind == "conversion" and value not in (0.0, 1.0)):
            raise ValueError(f"{metric} ({kind}): not a valid observation: {value!r}")
        self._moments[(variant, metric)].add(value)

    def observe_many(self, variant: str, metric: str, values: Sequence[float]) -> None:
        """A batch of observations at once (numpy; the same result as one by one)."""
        kind = self._check(variant, metric)
        x = np.asarray(values, dtype=float).ravel()
        if x.size == 0:
            return
        bad = ~np.isfinite(x) if kind == "mean" else (x != 0.0) & (x != 1.0)
        if bad.any():
            raise ValueError(f"{metric} ({kind}): not a valid observation: {x[bad][0]!r}")
        mean = float(x.mean())
        _merge(self._moments[(variant, metric)], x.size, mean, float(((x - mean) ** 2).sum()))

    def _check_variant(self, variant: str) -> None:
        if variant not in self._exposures:
            raise ValueError(f"unknown variant {variant!r}; the variants: {self.variants}")

    def _check(self, variant: str, metric: str) -> str:
        self._check_variant(variant)
        spec = self._metrics.get(metric)
        if spec is None:
            raise ValueError(f"unknown metric {metric!r}; this experiment's: {list(self._metrics)}")
        return spec.kind

    # -- the verdict ---------------------------------------------------------------------

    def verdict(self) -> Verdict:
        """Look: carry the evidence forward and say where the experiment stands."""
        self._looks += 1
        counts = [self._exposures[v] for v in self.variants]
        ratio = srm.check(counts, self.shares)
        if ratio.mismatch and not self._srm:
            self._srm = (
                f"sample ratio mismatch: exposures {'/'.join(f'{c:,}' for c in counts)} "
                f"against shares {'/'.join(f'{s:g}' for s in self.shares)} (chi-square "
                f"p = {ratio.p_value:.2g} < {srm.THRESHOLD:g}): assignment or logging is "
                "broken and no result can be trusted; the test stopped"
            )
        rows = [
            (
                v,
                self._look(v, self.primary, theta0=0.0),
                tuple(self._look(v, g, theta0=g.boundary) for g in self.guardrails),
            )
            for v in self.treatments
        ]
        if self._final is None:
            self._final = self._decide(rows)
        if self._srm:
            state, reason, winner = "srm", self._srm, None
        elif self._final is not None:
            state, reason, winner = self._final
        else:
            state, reason, winner = "running", self._waiting(rows), None
        return Verdict(
            state=state,
            reason=reason,
            winner=winner,
            primary=self.primary.name,
            alpha=self.alpha,
            alpha_per_comparison=self.alpha_per_comparison,
            srm_p_value=ratio.p_value,
            looks=self._looks,
            variants=(
                VariantResult(self.control, self._exposures[self.control]),
                *(VariantResult(v, self._exposures[v], p, g) for v, p, g in rows),
            ),
        )

    def _look(self, variant: str, spec: Metric | Guardrail, theta0: float) -> Comparison:
        a, b = self._moments[(self.control, spec.name)], self._moments[(variant, spec.name)]
        test = MeanComparison(tau2=spec.tau2, theta0=theta0, min_n=self.min_n, a=a, b=b)
        ev = self._evidence[(variant, spec.name)]
        llr = test.log_likelihood_ratio()
        if llr > 0:
            ev.p = min(ev.p, math.exp(-llr))
        low, high = test.interval(self.alpha_per_comparison)
        # The intersection of always-valid intervals is always valid; one disjoint from
        # the rest (a variance estimate gone astray) is skipped rather than emptying it.
        if max(low, ev.low) <= min(high, ev.high):
            ev.low, ev.high = max(low, ev.low), min(high, ev.high)
        if not ev.status:
            ev.status = _status(spec, low, high)
        status = ev.status or ("pending" if isinstance(spec, Guardrail) else "inconclusive")
        return Comparison(spec.name, b.n, b.mean, a.n, a.mean, (ev.low, ev.high), ev.p, status)

    def _decide(self, rows: list[tuple[str, Comparison, Guards]]) -> Final | None:
        """The first final state these looks reach, if any (see the module's docstring)."""
        alpha = self.alpha_per_comparison
        for name, _, guards in rows:
            for g in guards:
                if g.status == "failed":
                    margin = self._margins[g.metric]
                    return (
                        "guardrail_failed",
                        f"{name} is worse than {self.control} on guardrail {g.metric} by more "
                        f"than its margin {margin:g}: {describe(g, alpha)}; the test stopped",
                        None,
                    )
        wins = [
            (name, primary)
            for name, primary, guards in rows
            if primary.status == "better" and all(g.status == "within_margin" for g in guards)
        ]
        if wins:
            sign = 1.0 if self.primary.higher_is_better else -1.0
            name, primary = max(wins, key=lambda w: sign * w[1].effect)
            several = f" ({len(wins)} variants beat control; the largest effect is named)"
            return (
                "decided",
                f"{name} beats {self.control}: {describe(primary, alpha)}"
                + (several if len(wins) > 1 else ""),
                name,
            )
        if all(primary.status == "worse" for _, primary, _ in rows):
            each = "; ".join(f"{name}: {describe(primary, alpha)}" for name, primary, _ in rows)
            return "decided", f"every variant is worse than {self.control}: {each}", self.control
        return None

    def _waiting(self, rows: list[tuple[str, Comparison, Guards]]) -> str:
        parts = []
        for name, primary, guards in rows:
            if primary.status == "better":
                pending = ", ".join(g.metric for g in guards if g.status == "pending")
                parts.append(
                    f"{name} beats {self.control} on {primary.metric}; waiting for "
                    f"guardrails {pending} to be proven within their margins"
                )
            else:
                parts.append(f"{name}: {primary.status}")
        return "gathering evidence: " + "; ".join(parts)


def _status(spec: Metric | Guardrail, low: float, high: float) -> str:
    """What one look's interval of ``variant - control`` decides, or "" for nothing yet."""
    if isinstance(spec, Guardrail):
        # In units of harm: how much worse the variant is (positive = worse).
        harm_low, harm_high = (-high, -low) if spec.higher_is_better else (low, high)
        if harm_low > spec.margin:
            return "failed"
        if harm_high < spec.margin:
            return "within_margin"
        return ""
    if low > 0:
        return "better" if spec.higher_is_better else "worse"
    if high < 0:
        return "worse" if spec.higher_is_better else "better"
    return ""


def _merge(m: Moments, n: int, mean: float, m2: float) -> None:
    """Fold a batch's count, mean and squared deviations into ``m`` (Chan et al.)."""
    total = m.n + n
    delta = mean - m.mean
    m.m2 += m2 + delta * delta * m.n * n / total
    m.mean += delta * n / total
    m.n = total
