"""Rule evaluation: figures of a series against its rules, as firing / resolved changes.

Two moments:

* **early**, on the open window while events arrive (throttled): a rule whose previous
  ``for - 1`` closed windows breached and whose open window breaches too (with at least
  ``min_count`` events) fires now, not when the window closes — this is what gets an
  on-call engineer told within a second;
* **on close**, the definitive verdict: the breach streak counts closed windows, a rule
  fires when the streak reaches ``for``, and a firing rule resolves on the first closed
  window that does not breach (never on a partial window, which would flap).

>>> state = RuleState()
>>> state.fire_early(True, at_ms=5_000, fire_after=1), state.since_ms
(True, 5000)
>>> state.observe(True, at_ms=10_000, fire_after=1), state.firing
(None, True)
>>> state.observe(False, at_ms=20_000, fire_after=1), state.firing
('resolved', False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watchkeeper.kit import Hysteresis

from .aggregate import Aggregate
from .rules import Rule
from .series import SeriesState


@dataclass
class RuleState(Hysteresis):
    """Where one rule stands for one series: the hysteresis of its closed windows (early
    fires through ``fire_early``; a firing rule resolves on the first clear closed window,
    ``resolve_after=1``), and its alert's fingerprint, computed once."""

    fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"h": self.to_list(), "fp": self.fingerprint}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleState:
        streak, firing, since_ms, clear = data["h"]
        return cls(streak, clear, firing, since_ms, data["fp"])


@dataclass(frozen=True)
class Verdict:
    breach: bool
    value: float | None
    threshold: float | None
    enough: bool  # enough events for a verdict at all


def _with(agg: Aggregate, partial: Aggregate | None) -> Aggregate:
    return agg if partial is None else agg.copy().merge(partial)


def _view(
    series: SeriesState, rule: Rule, partial: Aggregate | None, closed: Aggregate | None
) -> tuple[Aggregate, float]:
    """The aggregate a rule looks at, and its duration in seconds."""
    if rule.view_ms == 0:
        agg = closed if closed is not None else partial
        return agg, series.window_ms / 1000.0  # type: ignore[return-value]
    rolling = series.rolling[rule.view_ms]
    return _with(rolling.total, partial), rule.view_ms / 1000.0


def judge(
    series: SeriesState,
    rule: Rule,
    partial: Aggregate | None = None,
    closed: Aggregate | None = None,
    partial_s: float | None = None,
    burn_index: int = 0,
) -> Verdict:
    """Does ``rule`` breach for ``series``: on an open window (``partial``, open for
    ``partial_s`` seconds so far) or at the close of ``closed``?"""
    if rule.kind == "burn_rate":
        window = rule.windows[burn_index]
        burns = []
        for period in (window.long_ms, window.short_ms):
            agg = _with(series.rolling[period].total, partial)
            bad, total = agg.bad_fraction(rule.bad)
            if total < rule.min_count:
                return Verdict(False, None, window.factor, False)
            burns.append(bad / total / rule.budget)
        return Verdict(all(b > window.factor for b in burns), burns[0], window.factor, True)

    agg, duration_s = _view(series, rule, partial, closed)
    if rule.view_ms == 0 and partial is not None and partial_s is not None:
        duration_s = max(partial_s, 1.0)
    if agg.count < rule.min_count:
        return Verdict(False, None, None, False)
    value = agg.figures(duration_s)[rule.figure]
    if value is None:
        return Verdict(False, None, None, False)
    if rule.kind == "baseline":
        reference_agg = series.rolling[rule.baseline_ms].total
        if reference_agg.count < rule.min_count:
            return Verdict(False, value, None, False)
        reference = reference_agg.figures(rule.baseline_ms / 1000.0)[rule.figure]
        if reference is None:
            return Verdict(False, value, None, False)
        threshold = rule.threshold * reference
    else:
        threshold = rule.threshold
    return Verdict(rule.compare(value, threshold), value, threshold, True)
