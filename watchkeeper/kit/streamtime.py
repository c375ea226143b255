"""Event-time windows: the stream clock of a partition and the windows it closes.

Stream time is the newest event time seen on the partition. Windows close when stream
time passes their end plus a grace period, so late events still count. A partition that
goes quiet would keep its last windows open for ever: once no event arrived for
``idle_ms`` of wall-clock time, stream time follows the wall clock (``now - idle_ms``).
Only an idle partition does that, so replaying a backlog fast is never taken for
lateness.

>>> clock = StreamClock(idle_ms=5_000, now_ms=0)
>>> clock.saw(60_000); clock.stream_ms
60000
>>> clock.busy = True; clock.advance_idle(70_000)   # events arrived since the last tick
False
>>> clock.advance_idle(80_000), clock.stream_ms      # none for 10 s: follows the wall
(True, 75000)
>>> windows = {0: "a", 10_000: "b", 70_000: "c"}
>>> [start for start, _ in close_due(windows, 10_000, 2_000, clock.stream_ms)]
[0, 10000]
>>> sorted(windows)
[70000]
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TypeVar

W = TypeVar("W")
CHANGELOG_KEY = b"t"


class StreamClock:
    """Stream time of one partition, with the idle advance. ``busy`` is a plain attribute
    so the per-event path costs one store: set it when an event arrives."""

    __slots__ = ("busy", "idle_ms", "last_event_wall_ms", "stream_ms")

    def __init__(self, idle_ms: int, now_ms: int) -> None:
        self.idle_ms = idle_ms
        self.stream_ms = 0
        # Counting from construction, not from 0: a restored task whose first fetch comes
        # back empty must not jump stream time to now and call its own backlog late.
        self.last_event_wall_ms = now_ms
        self.busy = False

    def saw(self, event_ms: int) -> None:
        if event_ms > self.stream_ms:
            self.stream_ms = event_ms

    def advance_idle(self, now_ms: int) -> bool:
        """At a tick: True when stream time moved because the partition is idle."""
        if self.busy:
            self.last_event_wall_ms, self.busy = now_ms, False
            return False
        idle_stream = now_ms - self.idle_ms
        if now_ms - self.last_event_wall_ms >= self.idle_ms and idle_stream > self.stream_ms:
            self.stream_ms = idle_stream
            return True
        return False

    def record(self) -> bytes:
        """The changelog value (under ``CHANGELOG_KEY``)."""
        return json.dumps({"stream_ms": self.stream_ms}).encode()

    def load(self, value: bytes | None) -> None:
        self.stream_ms = json.loads(value)["stream_ms"] if value else 0


def close_due(
    windows: dict[int, W], size_ms: int, grace_ms: int, stream_ms: int
) -> Iterator[tuple[int, W]]:
    """Remove and yield, oldest first, the windows (keyed by start) that stream time closed."""
    if not windows:
        return
    for start in sorted(windows):
        if start + size_ms + grace_ms > stream_ms:
            break
        yield start, windows.pop(start)
