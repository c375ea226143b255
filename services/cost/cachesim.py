"""What a result cache would have served: an LRU cache of ``size`` entries whose entries
live ``ttl_ms`` from when they were written, replayed on the stream of input hashes.

Simulating the cache one would deploy (bounded, expiring) answers "how much would it
serve" better than counting duplicates over a day, which no real cache of finite size
would catch. Only hashes are kept, never results.

>>> cache = CacheSim(size=2, ttl_ms=1_000)
>>> [cache.lookup(h, t) for h, t in [("a", 0), ("a", 10), ("b", 20), ("c", 30), ("a", 40)]]
[False, True, False, False, False]
>>> cache.lookup("c", 1_500), cache.lookup("c", 1_600)  # expired at 1030; written again
(False, True)
"""

from __future__ import annotations

from collections import OrderedDict


class CacheSim:
    def __init__(self, size: int, ttl_ms: int) -> None:
        self.size = size
        self.ttl_ms = ttl_ms
        self.entries: OrderedDict[str, int] = OrderedDict()  # hash -> written at

    def lookup(self, key: str, t_ms: int) -> bool:
        """True if a cache would have answered; a miss writes the entry."""
        entries = self.entries
        written = entries.get(key)
        if written is not None and t_ms - written <= self.ttl_ms:
            entries.move_to_end(key)
            return True
        entries[key] = t_ms
        entries.move_to_end(key)
        if len(entries) > self.size:
            entries.popitem(last=False)
        return False
