"""A stream's rate: events per second over the last ``WINDOW_S`` seconds, in per-second buckets.

A ring of one bucket per second: an observation adds to its second's bucket (resetting a
bucket that still holds a second a whole window old), so it costs O(1) whatever the rate;
reading sums the buckets still inside the window, O(WINDOW_S). Buckets were chosen over an
exponentially decayed rate because the answer is exact and explainable ("events in the last
60 s, divided by 60") and a test can state it. A stream younger than the window is divided
by its age in whole seconds (at least 1), so a new stream is not under-reported for a minute.

>>> r = WindowRate()
>>> for second in range(60):
...     r.observe(2, now_ms=1_000_000 + second * 1000)
>>> r.rate_per_s(now_ms=1_059_000), r.last_seen_ms
(2.0, 1059000)
>>> r.rate_per_s(now_ms=1_089_000)  # 30 s later, half the window has aged out
1.0
>>> r.rate_per_s(now_ms=2_000_000)
0.0
>>> young = WindowRate()
>>> young.observe(30, now_ms=5_000)
>>> young.observe(30, now_ms=9_000)
>>> young.rate_per_s(now_ms=9_000)  # 60 events over the 5 seconds it has existed
12.0
"""

from __future__ import annotations

WINDOW_S = 60


class WindowRate:
    __slots__ = ("_counts", "_seconds", "first_seen_ms", "last_seen_ms", "total")

    def __init__(self) -> None:
        self._counts = [0] * WINDOW_S
        self._seconds = [-1] * WINDOW_S  # which second each bucket holds
        self.first_seen_ms: int | None = None
        self.last_seen_ms: int | None = None
        self.total = 0

    def observe(self, count: int, now_ms: int) -> None:
        """Add ``count`` events seen at ``now_ms``; older than the window is only counted."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        self.total += count
        if self.first_seen_ms is None or now_ms < self.first_seen_ms:
            self.first_seen_ms = now_ms
        if self.last_seen_ms is None or now_ms > self.last_seen_ms:
            self.last_seen_ms = now_ms
        second = now_ms // 1000
        if second <= self.last_seen_ms // 1000 - WINDOW_S:
            return  # late: outside the window already
        i = second % WINDOW_S
        held = self._seconds[i]
        if held != second:
            if held > second:
                return  # the bucket holds a newer second: this one has left the window
            self._seconds[i] = second
            self._counts[i] = 0
        self._counts[i] += count

    def rate_per_s(self, now_ms: int) -> float:
        """Events per second over the window ending at ``now_ms``."""
        if self.first_seen_ms is None:
            return 0.0
        now_s = now_ms // 1000
        oldest = now_s - WINDOW_S  # buckets of seconds after this are inside
        events = 0
        for held, count in zip(self._seconds, self._counts, strict=True):
            if oldest < held <= now_s:
                events += count
        age_s = now_s - self.first_seen_ms // 1000 + 1
        return events / max(1, min(WINDOW_S, age_s))
