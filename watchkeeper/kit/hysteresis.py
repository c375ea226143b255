"""One alert condition's state: fires after N breaching evaluations in a row, resolves
after M clear ones in a row.

Every service that turns evaluations (closed windows, checks) into firing and resolved
alerts uses this: a verdict of ``None`` means no evidence either way (too few events),
which leaves the state as it was.

>>> state = Hysteresis()
>>> [state.observe(b, at_ms=t, fire_after=2, resolve_after=1)
...  for t, b in enumerate([True, None, True, False])]
[None, None, 'firing', 'resolved']
>>> state.since_ms
2
>>> Hysteresis.from_list(state.to_list()) == state
True

An early look at an open window can fire a condition whose previous ``N - 1`` closed
evaluations breached, without counting the open one as an evaluation:

>>> state = Hysteresis(streak=1)
>>> state.fire_early(True, at_ms=5, fire_after=2), state.firing
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Hysteresis:
    streak: int = 0  # breaching evaluations in a row
    clear: int = 0  # clear evaluations in a row while firing
    firing: bool = False
    since_ms: int = 0  # when it started firing

    def observe(
        self, breach: bool | None, at_ms: int, fire_after: int = 1, resolve_after: int = 1
    ) -> str | None:
        """'firing', 'resolved' or None (no change)."""
        if breach is None:
            return None
        if breach:
            self.streak += 1
            self.clear = 0
            if not self.firing and self.streak >= fire_after:
                self.firing, self.since_ms = True, at_ms
                return "firing"
            return None
        self.streak = 0
        if not self.firing:
            return None
        self.clear += 1
        if self.clear >= resolve_after:
            self.firing, self.clear = False, 0
            return "resolved"
        return None

    def fire_early(self, breach: bool, at_ms: int, fire_after: int) -> bool:
        """True when a breaching open window makes a not-yet-firing condition fire now."""
        if self.firing or not breach or self.streak < fire_after - 1:
            return False
        self.firing, self.since_ms, self.clear = True, at_ms, 0
        return True

    def to_list(self) -> list[Any]:
        return [self.streak, self.firing, self.since_ms, self.clear]

    @classmethod
    def from_list(cls, data: list[Any]) -> Hysteresis:
        streak, firing, since_ms, *rest = data
        return cls(streak, rest[0] if rest else 0, firing, since_ms)
