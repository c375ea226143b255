"""A running total over the closed windows of a trailing period.

Merging 360 ten-second windows into an hourly view at every evaluation would be slow;
instead each period keeps a running total, adds a window as it closes and subtracts the
windows that fall out of the period.

>>> from services.slo.aggregate import Aggregate
>>> hour = Rolling(duration_ms=30_000)
>>> for start in range(0, 60_000, 10_000):
...     window = Aggregate()
...     window.add_prediction(float(start // 1000 + 1), True, None, 0, 0)
...     hour.push(start, window, end_ms=start + 10_000)
>>> hour.total.count, [start for start, _ in hour.members]
(3, [30000, 40000, 50000])
"""

from __future__ import annotations

from collections import deque

from .aggregate import Aggregate


class Rolling:
    """Closed windows whose start is within ``duration_ms`` of the latest window's end."""

    def __init__(
        self, duration_ms: int, thresholds: tuple[float, ...] = (), with_sketch: bool = True
    ) -> None:
        self.duration_ms = duration_ms
        self.with_sketch = with_sketch
        self.total = Aggregate(thresholds)
        self.members: deque[tuple[int, Aggregate]] = deque()

    def push(self, start_ms: int, window: Aggregate, end_ms: int) -> None:
        if not self.with_sketch:
            window = window.without_sketch()
        self.members.append((start_ms, window))
        self.total.merge(window)
        self.evict(end_ms)

    def evict(self, end_ms: int) -> None:
        horizon = end_ms - self.duration_ms
        members, total = self.members, self.total
        while members and members[0][0] < horizon:
            total.subtract(members.popleft()[1])
