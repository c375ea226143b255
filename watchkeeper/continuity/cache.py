"""A result cache: time to live plus least-recently-used eviction, with hit/miss counters.

Keys are the caller's (strings) or the canonical bytes of the features (see
:func:`watchkeeper.continuity.feature_key`): exact, so two inputs never share an entry.

>>> now = [0.0]
>>> cache = ResultCache(maxsize=2, ttl_s=60, name="doc", clock=lambda: now[0])
>>> cache.put("a", "legit"); cache.put("b", "fraud")
>>> cache.get("a")                 # a is now the most recently used
(True, 'legit')
>>> cache.put("c", "legit")        # evicts b, the least recently used
>>> cache.get("b"), len(cache)
((False, None), 2)
>>> now[0] = 61.0                  # a and c expire
>>> cache.get("a"), (cache.hits, cache.misses)
((False, None), (1, 2))
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from . import _metrics
from ._keys import Unkeyable, feature_key

__all__ = ["ResultCache", "Unkeyable", "feature_key"]

_MISS = (False, None)


class ResultCache:
    """At most ``maxsize`` entries, each fresh for ``ttl_s`` seconds after it was put.

    Thread-safe without a lock: single OrderedDict operations are atomic under the GIL
    (an entry evicted by another thread meanwhile is a miss).
    ``name`` labels the ``wk_sdk_cache_*`` metrics.
    """

    __slots__ = (
        "__weakref__",
        "_data",
        "clock",
        "evictions",
        "hits",
        "maxsize",
        "misses",
        "name",
        "ttl_s",
        "unkeyable",
    )

    def __init__(
        self,
        maxsize: int = 10_000,
        ttl_s: float = 300.0,
        *,
        name: str = "default",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if maxsize < 1 or ttl_s <= 0:
            raise ValueError(f"maxsize must be >= 1 and ttl_s > 0, got {maxsize}, {ttl_s}")
        self.maxsize, self.ttl_s, self.name, self.clock = maxsize, ttl_s, name, clock
        self._data: OrderedDict[str | bytes, tuple[float, Any]] = OrderedDict()
        # Plain counters (read at scrape time); += on an int attribute is not split by a
        # thread switch in CPython 3.11, so they stay exact without a lock.
        self.hits = self.misses = self.unkeyable = self.evictions = 0
        _metrics.track_cache(self)

    def get(self, key: str | bytes) -> tuple[bool, Any]:
        """``(True, value)`` for a fresh entry, ``(False, None)`` otherwise; counted."""
        data = self._data
        entry = data.get(key)
        if entry is not None:
            if entry[0] > self.clock():
                try:  # noqa: SIM105 (contextlib.suppress costs more on the hit path)
                    data.move_to_end(key)
                except KeyError:  # evicted by another thread since: still a valid answer
                    pass
                self.hits += 1
                return True, entry[1]
            data.pop(key, None)
        self.misses += 1
        return _MISS

    def peek(self, key: str | bytes) -> tuple[bool, Any]:
        """Like :meth:`get`, without counting or refreshing recency."""
        entry = self._data.get(key)
        if entry is not None and entry[0] > self.clock():
            return True, entry[1]
        return _MISS

    def put(self, key: str | bytes, value: Any) -> None:
        # Each OrderedDict operation is atomic under the GIL; two threads putting at once
        # may evict one entry too many, never corrupt the cache, so no lock.
        data = self._data
        data[key] = (self.clock() + self.ttl_s, value)
        data.move_to_end(key)
        if len(data) > self.maxsize:
            try:
                data.popitem(last=False)
            except KeyError:  # emptied by clear() meanwhile
                return
            self.evictions += 1

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
