"""The bounded hand-off between the caller and librdkafka.

librdkafka's own queue cannot drop its oldest message on demand, so it gets only a small
in-flight window; behind it a deque holds the rest and drops its oldest when full. The
total never exceeds ``capacity``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

Item = tuple[str, bytes, bytes]  # topic, key, value


def split_capacity(capacity: int) -> tuple[int, int]:
    """(librdkafka window, backlog size) for a total ``capacity``.

    >>> split_capacity(100)
    (10, 90)
    >>> split_capacity(1_000_000)
    (10000, 990000)
    >>> split_capacity(1)
    (1, 0)
    """
    if capacity < 1:
        raise ValueError(f"buffer_size must be at least 1, got {capacity}")
    window = max(1, min(10_000, capacity // 10))
    return window, capacity - window


class Backlog:
    """A FIFO of encoded events that drops its oldest when full, calling ``on_drop``."""

    def __init__(self, size: int, on_drop: Callable[[int], None]) -> None:
        self._items: deque[Item] = deque()
        self._size = size
        self._on_drop = on_drop
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: Item) -> None:
        with self.lock:
            dropped = 0
            if self._size == 0:
                dropped = 1
            else:
                while len(self._items) >= self._size:
                    self._items.popleft()
                    dropped += 1
                self._items.append(item)
        if dropped:
            self._on_drop(dropped)

    def drain(self, produce: Callable[[Item], bool]) -> int:
        """Hand items to ``produce`` in order until it refuses one; return how many went."""
        moved = 0
        with self.lock:
            while self._items:
                if not produce(self._items[0]):
                    break
                self._items.popleft()
                moved += 1
        return moved

    def clear(self) -> int:
        with self.lock:
            count = len(self._items)
            self._items.clear()
        return count

    def requeue(self, items: list[Item], produce: Callable[[Item], bool]) -> None:
        """Events taken back from a producer: handed to ``produce`` first, in order; those
        it refuses go to the front of the backlog (which may then exceed its size until
        it drains: nothing that was held is dropped for it).

        >>> b = Backlog(2, print); b.push(("t", b"k", b"3"))
        >>> b.requeue([("t", b"k", b"1"), ("t", b"k", b"2")], lambda item: item[2] == b"1")
        >>> [item[2] for item in b._items]
        [b'2', b'3']
        """
        with self.lock:
            for i, item in enumerate(items):
                if not produce(item):
                    self._items.extendleft(reversed(items[i:]))
                    return
