"""Pending predictions: held until their label arrives, minutes to days later.

Services that judge predictions against ground truth (drift's performance, fairness's
equal opportunity) keep each prediction's few relevant fields here, keyed by event id, and
take them out when the feedback event with that id arrives. The store is bounded twice:

* by a horizon in event time: a prediction older than the newest one seen minus
  ``horizon_ms`` has expired (its label is now too late to matter);
* by ``max_entries``: beyond it the oldest pending prediction is evicted.

Both are counted, never silent; so are labels for unknown or expired predictions.

>>> pending = PendingPredictions(max_entries=2, horizon_ms=60_000)
>>> pending.add("a", ("fraud", "3", "legit"), event_ms=1_000)
[]
>>> pending.add("b", ("fraud", "3", "fraud"), event_ms=2_000)
[]
>>> pending.add("c", ("fraud", "3", "legit"), event_ms=3_000)   # over the bound: a goes
['a']
>>> pending.take("b"), pending.take("a"), pending.counts
(('fraud', '3', 'fraud'), None, {'joined': 1, 'unknown': 1, 'evicted': 1, 'expired': 0})
>>> pending.add("d", ("fraud", "3", "legit"), event_ms=70_000)   # c is now past the horizon
['c']
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class PendingPredictions:
    def __init__(self, max_entries: int, horizon_ms: int) -> None:
        self.max_entries = max_entries
        self.horizon_ms = horizon_ms
        # Insertion order is arrival order: the oldest pending prediction is always first.
        self._items: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self.newest_ms = 0
        self.counts = {"joined": 0, "unknown": 0, "evicted": 0, "expired": 0}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._items

    def add(self, event_id: str, item: Any, event_ms: int) -> list[str]:
        """Hold ``item`` until ``take(event_id)``; return the ids that had to go."""
        self._items[event_id] = (event_ms, item)
        if event_ms > self.newest_ms:
            self.newest_ms = event_ms
        gone = self._expire()
        while len(self._items) > self.max_entries:
            oldest, _ = self._items.popitem(last=False)
            self.counts["evicted"] += 1
            gone.append(oldest)
        return gone

    def _expire(self) -> list[str]:
        limit = self.newest_ms - self.horizon_ms
        gone = []
        items = self._items
        while items:
            event_id, (event_ms, _) = next(iter(items.items()))
            if event_ms >= limit:
                break
            items.popitem(last=False)
            self.counts["expired"] += 1
            gone.append(event_id)
        return gone

    def take(self, event_id: str) -> Any | None:
        """The pending item for ``event_id``, removed; None (and counted) if unknown."""
        found = self._items.pop(event_id, None)
        if found is None:
            self.counts["unknown"] += 1
            return None
        self.counts["joined"] += 1
        return found[1]

    def restore(self, event_id: str, item: Any, event_ms: int) -> None:
        """Put back one entry read from a changelog (no counting, no eviction)."""
        self._items[event_id] = (event_ms, item)
        if event_ms > self.newest_ms:
            self.newest_ms = event_ms

    def drop(self, event_id: str) -> None:
        self._items.pop(event_id, None)
