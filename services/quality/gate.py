"""The gate of one dataset (a model's events): blocked while a check keeps failing.

Each check has a streak counter. A check **fails** once it was below its threshold in
``for`` judged windows in a row, and **recovers** once it was at or above it in
``recover`` judged windows in a row (hysteresis: one good window after a bad spell does
not reopen the gate, one bad window does not close it). A window with fewer than
``min_events`` events, or a check without a value (no constrained field had values), is
not judged: streaks stay as they are. A silent model blocks the gate too when its contract
says ``silence_blocks``; its first event lifts that at once.

>>> gate = Gate()
>>> limits = {"completeness": 0.99}
>>> gate.judge({"completeness": 0.5}, limits, for_windows=2, recover_windows=1)  # known now
True
>>> gate.blocked
False
>>> gate.judge({"completeness": 0.4}, limits, for_windows=2, recover_windows=1), gate.blocked
(True, True)
>>> gate.failing(limits)
[('completeness', 0.4, 0.99)]
>>> gate.judge({"completeness": 1.0}, limits, for_windows=2, recover_windows=1), gate.blocked
(True, False)
"""

from __future__ import annotations

from typing import Any


class CheckState:
    __slots__ = ("bad", "failing", "good", "value")

    def __init__(self) -> None:
        self.bad = 0  # judged windows below the threshold, in a row
        self.good = 0  # ... at or above it
        self.failing = False
        self.value: float | None = None  # the last judged value

    def observe(self, value: float, threshold: float, for_windows: int, recover: int) -> None:
        self.value = value
        if value < threshold:
            self.bad += 1
            self.good = 0
            if self.bad >= for_windows:
                self.failing = True
        else:
            self.good += 1
            self.bad = 0
            if self.failing and self.good >= recover:
                self.failing = False


class Gate:
    def __init__(self) -> None:
        self.checks: dict[str, CheckState] = {}
        self.silent = False  # the model is silent and its contract blocks on silence
        self.blocked = False
        self.known = False  # a state was published: the first verdict always is
        self.since_ms = 0  # event time of the last change

    def judge(
        self,
        values: dict[str, float | None],
        thresholds: dict[str, float],
        for_windows: int,
        recover_windows: int,
    ) -> bool:
        """Feed one judged window; True when the gate changed state (or became known)."""
        for check, value in values.items():
            if value is None:
                continue
            state = self.checks.get(check)
            if state is None:
                state = self.checks[check] = CheckState()
            state.observe(value, thresholds[check], for_windows, recover_windows)
        return self._settle()

    def set_silent(self, silent: bool) -> bool:
        """The model went silent (or spoke again); True when the gate changed state."""
        self.silent = silent
        return self._settle()

    def _settle(self) -> bool:
        blocked = self.silent or any(s.failing for s in self.checks.values())
        changed = blocked != self.blocked or not self.known
        self.blocked = blocked
        self.known = True
        return changed

    def failing(self, thresholds: dict[str, float]) -> list[tuple[str, float | None, float]]:
        """(check, last value, threshold) of every failing check."""
        return [
            (name, state.value, thresholds[name])
            for name, state in self.checks.items()
            if state.failing
        ]

    # -- changelog ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": {k: [s.bad, s.good, s.failing, s.value] for k, s in self.checks.items()},
            "silent": self.silent,
            "blocked": self.blocked,
            "known": self.known,
            "since": self.since_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Gate:
        gate = cls()
        for name, (bad, good, failing, value) in data["checks"].items():
            state = gate.checks[name] = CheckState()
            state.bad, state.good, state.failing, state.value = bad, good, failing, value
        gate.silent, gate.blocked = data["silent"], data["blocked"]
        gate.known, gate.since_ms = data["known"], data["since"]
        return gate
