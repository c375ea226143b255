""" "No events for N minutes": the last arrival of a model or a source, on the wall clock.

Silence is about arrivals, so it runs on the service's clock, not on event time. After a
restart the clock starts again at the restart (``awake_ms``): a service that was down for
an hour does not call every source silent the moment it is back, and a source that stays
silent after the restart is still called silent ``limit`` later.

>>> watch = Silence(limit_ms=60_000)
>>> watch.heard(1_000)
False
>>> watch.due(60_000, awake_ms=0), watch.due(61_000, awake_ms=0)
(False, True)
>>> watch.firing, watch.silent_for(91_000, awake_ms=0)
(True, 90000)
>>> watch.heard(95_000)   # True: it was firing, the alert resolves
True
"""

from __future__ import annotations


class Silence:
    __slots__ = ("firing", "last_ms", "limit_ms", "since_ms")

    def __init__(
        self, limit_ms: int, last_ms: int = 0, firing: bool = False, since_ms: int = 0
    ) -> None:
        self.limit_ms = limit_ms
        self.last_ms = last_ms
        self.firing = firing
        self.since_ms = since_ms  # when the alerted silence began

    def state(self) -> list[int | bool]:
        return [self.last_ms, self.firing, self.since_ms]

    def heard(self, now_ms: int) -> bool:
        """An event arrived; True when that ends a silence that was alerted."""
        self.last_ms = now_ms
        if self.firing:
            self.firing = False
            return True
        return False

    def silent_for(self, now_ms: int, awake_ms: int) -> int:
        return now_ms - max(self.last_ms, awake_ms)

    def due(self, now_ms: int, awake_ms: int) -> bool:
        """True once, when the silence reaches the limit."""
        silent_ms = self.silent_for(now_ms, awake_ms)
        if self.firing or silent_ms < self.limit_ms:
            return False
        self.firing = True
        self.since_ms = now_ms - silent_ms
        return True
