"""Rule evaluation: figures of a series against its rules, as firing / resolved changes.

Two moments:

* **early**, on the open window while events arrive (throttled): a rule whose previous
  ``for - 1`` closed windows breached and whose open window breaches too (with at least
  ``min_count`` events) fires now, not when the window closes — this is what gets an
  on-call engineer told within a second;
* **on close**, the definitive verdict: the breach streak counts closed windows, a rule
  fires when the streak reaches ``for``, and a firing rule resolves on the first closed
  window that does not breach (never on a partial window, which would flap).

>>> from services.slo.rules import Rule
>>> rule = Rule(alert="HighLatency", kind="threshold", line=1, figure="latency_max_ms",
...             threshold=300.0, min_count=1)
>>> state = RuleState()
>>> state.observe_early(breach=True, ok_for=rule.for_windows)
True
>>> state.observe_close(breach=True, ok_for=1), state.firing
(None, True)
>>> state.observe_close(breach=False, ok_for=1), state.firing
('resolved', False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .aggregate import Aggregate
from .rules import Rule
from .series import SeriesState


@dataclass
class RuleState:
    """Where one rule stands for one series."""

    streak: int = 0  # closed windows in a row that breached
    firing: bool = False
    since_ms: int = 0  # event time it started firing
    fingerprint: str = ""

    def observe_early(self, breach: bool, ok_for: int) -> bool:
        """True when the open window makes a not-yet-firing rule fire."""
        if self.firing or not breach or self.streak < ok_for - 1:
            return False
        self.firing = True
        return True

    def observe_close(self, breach: bool, ok_for: int) -> str | None:
        """'firing', 'resolved' or None for a closed window."""
        self.streak = self.streak + 1 if breach else 0
        if self.firing and not breach:
            self.firing = False
            return "resolved"
        if not self.firing and self.streak >= ok_for:
            self.firing = True
            return "firing"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "streak": self.streak,
            "firing": self.firing,
            "since": self.since_ms,
            "fp": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleState:
        return cls(data["streak"], data["firing"], data["since"], data["fp"])


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
