"""The gate of one dataset (a model's events): blocked while a check keeps failing.

Each check is a ``Hysteresis``: it **fails** once it was below its threshold in ``for``
judged windows in a row, and **recovers** once it was at or above it in ``recover``
judged windows in a row (one good window after a bad spell does not reopen the gate, one
bad window does not close it). A window with fewer than ``min_events`` events, or a check
without a value (no constrained field had values), is not judged: streaks stay as they
are. A silent model blocks the gate too when its contract says ``silence_blocks``; its
first event lifts that at once.

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
>>> Gate.from_dict(gate.to_dict()).to_dict() == gate.to_dict()
True
"""

from __future__ import annotations

from typing import Any

from watchkeeper.kit import Hysteresis


class Gate:
    def __init__(self) -> None:
        self.checks: dict[str, Hysteresis] = {}
        self.values: dict[str, float | None] = {}  # each check's last judged value
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
        at_ms: int = 0,
    ) -> bool:
        """Feed one judged window; True when the gate changed state (or became known)."""
        for check, value in values.items():
            if value is None:
                continue
            state = self.checks.get(check)
            if state is None:
                state = self.checks[check] = Hysteresis()
            self.values[check] = value
            state.observe(value < thresholds[check], at_ms, for_windows, recover_windows)
        return self._settle()

    def set_silent(self, silent: bool) -> bool:
        """The model went silent (or spoke again); True when the gate changed state."""
        self.silent = silent
        return self._settle()

    def _settle(self) -> bool:
        blocked = self.silent or any(s.firing for s in self.checks.values())
        changed = blocked != self.blocked or not self.known
        self.blocked = blocked
        self.known = True
        return changed

    def failing(self, thresholds: dict[str, float]) -> list[tuple[str, float | None, float]]:
        """(check, last value, threshold) of every failing check."""
        return [
            (name, self.values.get(name), thresholds[name])
            for name, state in self.checks.items()
            if state.firing
        ]

    # -- changelog ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": {k: [*s.to_list(), self.values.get(k)] for k, s in self.checks.items()},
            "silent": self.silent,
            "blocked": self.blocked,
            "known": self.known,
            "since": self.since_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Gate:
        gate = cls()
        for name, saved in data["checks"].items():
            *state, value = saved
            if len(saved) == 4:  # [bad, good, failing, value], as written before Hysteresis
                bad, good, failing = state
                state = [bad, failing, 0, good if failing else 0]
            gate.checks[name] = Hysteresis.from_list(state)
            gate.values[name] = value
        gate.silent, gate.blocked = data["silent"], data["blocked"]
        gate.known, gate.since_ms = data["known"], data["since"]
        return gate
