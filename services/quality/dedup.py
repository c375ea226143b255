"""Recently seen event ids, in bounded memory, for the duplicate check.

Ids are kept as 8-byte BLAKE2b digests in two generations: new ids go into the current
one; when it holds ``max_ids / 2`` ids or spans ``horizon / 2`` of stream time it becomes
the previous one and the old previous one is forgotten. So:

* memory is at most ``max_ids`` digests (about 85 bytes each in a Python set);
* an id repeated within ``horizon / 2`` of stream time and ``max_ids / 2`` other ids is
  always caught; beyond ``horizon`` (or ``max_ids`` ids) it is not guaranteed to be;
* two different ids share a 64-bit digest with probability about n^2 / 2^65 (below
  1e-9 for n = 200,000): a false duplicate is practically impossible.

The changelog holds the digests added since the last drain as one packed record per
drain (``d\\0<generation>\\0<n>``); dropping a generation tombstones its records, so a
restored task knows exactly the ids its committed predecessor knew.

>>> ids = RecentIds(max_ids=4, horizon_ms=60_000)
>>> [ids.seen(e, stream_ms=0) for e in ("a", "b", "a")]
[False, False, True]
>>> [ids.seen(e, stream_ms=0) for e in ("c", "d")]   # c fills a generation: a, b -> previous
[False, False]
>>> ids.seen("a", stream_ms=0), ids.seen("e", stream_ms=0), ids.seen("a", stream_ms=0)
(True, False, False)
"""

from __future__ import annotations

import json
from hashlib import blake2b

_DIGEST = 8
_CHUNK = 50_000  # digests per changelog record: 400 kB, well under Kafka's 1 MB default


class RecentIds:
    def __init__(self, max_ids: int, horizon_ms: int) -> None:
        self.half = max(1, max_ids // 2)
        self.span_ms = max(1, horizon_ms // 2)
        self.current: set[bytes] = set()
        self.previous: set[bytes] = set()
        self.generation = 0
        self.started_ms = 0  # stream time at which the current generation began
        self._records: dict[int, int] = {}  # generation -> changelog records written
        self._added: list[bytes] = []
        self._changes: list[tuple[bytes, bytes | None]] = []
        self._restored: dict[int, list[bytes]] | None = None

    def __len__(self) -> int:
        return len(self.current) + len(self.previous)

    def seen(self, event_id: str, stream_ms: int) -> bool:
        """True if ``event_id`` was seen recently; remembers it otherwise."""
        digest = blake2b(event_id.encode(), digest_size=_DIGEST).digest()
        current = self.current
        if digest in current or digest in self.previous:
            return True
        if len(current) >= self.half or (current and stream_ms - self.started_ms >= self.span_ms):
            self._rotate(stream_ms)
            current = self.current
        if not current:
            self.started_ms = stream_ms
        current.add(digest)
        self._added.append(digest)
        return False

    def _rotate(self, stream_ms: int) -> None:
        self._flush()
        dropped = self.generation - 1
        for n in range(self._records.pop(dropped, 0)):
            self._changes.append((_key(dropped, n), None))
        self.previous, self.current = self.current, set()
        self.generation += 1
        self.started_ms = stream_ms

    def _flush(self) -> None:
        added, self._added = self._added, []
        for start in range(0, len(added), _CHUNK):
            n = self._records.get(self.generation, 0)
            self._records[self.generation] = n + 1
            self._changes.append(
                (_key(self.generation, n), b"".join(added[start : start + _CHUNK]))
            )

    def changes(self) -> list[tuple[bytes, bytes | None]]:
        """Changelog records since the last call."""
        if self._added:
            self._flush()
            meta = {"generation": self.generation, "started_ms": self.started_ms}
            self._changes.append((b"d\x00meta", json.dumps(meta).encode()))
        changes, self._changes = self._changes, []
        return changes

    # -- restore ------------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None) -> None:
        if self._restored is None:
            self._restored = {}
        parts = key.split(b"\x00")
        if parts[1] == b"meta":
            if value is not None:
                meta = json.loads(value)
                self.generation, self.started_ms = meta["generation"], meta["started_ms"]
            return
        generation, n = parts[1], parts[2]
        chunks = self._restored.setdefault(int(generation), [])
        index = int(n)
        while len(chunks) <= index:
            chunks.append(b"")
        chunks[index] = value or b""

    def finish_restore(self) -> None:
        restored, self._restored = self._restored, None
        if not restored:
            return
        for generation, chunks in restored.items():
            if not any(chunks):
                continue
            self._records[generation] = len(chunks)
            if generation == self.generation:
                target = self.current
            elif generation == self.generation - 1:
                target = self.previous
            else:  # older than what the meta record keeps: forget it, for good
                for n in range(len(chunks)):
                    self._changes.append((_key(generation, n), None))
                del self._records[generation]
                continue
            for blob in chunks:
                target.update(blob[i : i + _DIGEST] for i in range(0, len(blob), _DIGEST))


def _key(generation: int, n: int) -> bytes:
    return f"d\x00{generation}\x00{n}".encode()
