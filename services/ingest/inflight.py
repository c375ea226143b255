"""The backpressure bound: how many events and bytes may wait for the broker at once.

A request takes room for all its accepted events before any is produced, and gives it
back as the broker answers for each (acknowledged or failed). A request that does not fit
is refused whole with 429: nothing half-written, nothing queued without a bound, and a
broker that does not drain makes the service say so at once instead of hanging.

>>> bound = InFlight(max_events=10, max_bytes=1000)
>>> bound.take(8, 400), bound.take(3, 100), bound.events
(True, False, 8)
>>> bound.give_back(8, 400); bound.take(10, 1000), bound.bytes
(True, 1000)
"""

from __future__ import annotations

import threading


class InFlight:
    def __init__(self, max_events: int, max_bytes: int) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.events = 0
        self.bytes = 0
        self._lock = threading.Lock()  # taken on the loop, given back from delivery reports

    def take(self, events: int, nbytes: int) -> bool:
        with self._lock:
            if self.events + events > self.max_events or self.bytes + nbytes > self.max_bytes:
                return False
            self.events += events
            self.bytes += nbytes
            return True

    def give_back(self, events: int, nbytes: int) -> None:
        with self._lock:
            self.events -= events
            self.bytes -= nbytes
