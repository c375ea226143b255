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
>>> pending.departures(), pending.departures()    # for counters: what is new since last time
({'expired': 1, 'evicted': 1}, {'expired': 0, 'evicted': 0})
"""

from __future__ import annotations

import uuid
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
        self._told = {"expired": 0, "evicted": 0}  # what departures() has already said

    def departures(self) -> dict[str, int]:
        """Predictions expired and evicted since the last call: what a counter must add."""
        news = {outcome: self.counts[outcome] - told for outcome, told in self._told.items()}
        self._told = {outcome: self.counts[outcome] for outcome in self._told}
        return news

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


# Characters in one changelog record (at most four bytes each in UTF-8): well under the
# 1 MB that Kafka's broker and producer accept by default.
MAX_RECORD_CHARS = 200_000


def _spans(lines: list[str], limit: int = MAX_RECORD_CHARS) -> list[tuple[int, int]]:
    """Cut ``lines`` into runs whose joined length stays under ``limit``.

    >>> _spans(["aaaa", "bb", "cccc", "d"], limit=8)
    [(0, 2), (2, 4)]
    """
    spans, start, size = [], 0, 0
    for i, line in enumerate(lines):
        if i > start and size + len(line) + 1 > limit:
            spans.append((start, i))
            start, size = i, 0
        size += len(line) + 1
    spans.append((start, len(lines)))
    return spans


class PendingLog:
    """The changelog of a pending store, packed: one record per commit, not per prediction.

    Writing one changelog record per pending prediction costs the broker (and librdkafka)
    as much as the prediction itself costs us: at 20,000 predictions/s it cut a drift
    worker's throughput by a quarter. Instead, the predictions that became pending between
    two commits go out as one *batch* record, and the ones that left (labelled, expired,
    evicted) as one *removals* record (several when there are more than a record may
    hold: see ``MAX_RECORD_CHARS``). A batch whose entries have all left is tombstoned,
    and so is a removals record whose batches are all gone, so compaction keeps the log
    about as large as the store.

    Keys: ``pb\\0<id>`` (lines ``event_id \\x1f entry``), ``px\\0<id>`` (event ids).

    >>> log = PendingLog()
    >>> log.added("e1", "1000\\x1fs-legit"); log.added("e2", "1001\\x1fs-fraud")
    >>> first = log.drain()
    >>> [key[:3] for key, _ in first]
    [b'pb\\x00']
    >>> log.removed("e1"); log.removed("e2")
    >>> [(key[:3], value is None) for key, value in log.drain()]
    [(b'px\\x00', False), (b'pb\\x00', True), (b'px\\x00', True)]
    >>> restored = PendingLog()
    >>> for key, value in first: restored.restore(key, value)
    >>> sorted(restored.finish())
    [('e1', '1000\\x1fs-legit'), ('e2', '1001\\x1fs-fraud')]
    """

    def __init__(self) -> None:
        self._new: dict[str, str] = {}  # pending since the last drain, not yet written
        self._batch_of: dict[str, str] = {}  # written entries: event id -> batch id
        self._live: dict[str, int] = {}  # batch id -> entries still pending
        self._gone: list[str] = []  # written entries that left since the last drain
        self._refs: dict[str, set[str]] = {}  # removals id -> batches it names
        self._named_by: dict[str, set[str]] = {}  # batch id -> removals naming it
        self._restoring: tuple[dict[str, dict[str, str]], dict[str, list[str]]] | None = None
        self._stale: list[bytes] = []

    def added(self, event_id: str, entry: str) -> None:
        self._new[event_id] = entry

    def removed(self, event_id: str) -> None:
        if self._new.pop(event_id, None) is not None:
            return  # came and went between two commits: never written
        if event_id in self._batch_of:
            self._gone.append(event_id)

    @property
    def restoring(self) -> bool:
        return self._restoring is not None

    def drain(self) -> list[tuple[bytes, bytes | None]]:
        records: list[tuple[bytes, bytes | None]] = self.stale()
        if self._new:
            lines = [f"{k}\x1f{v}" for k, v in self._new.items()]
            ids = list(self._new)
            for start, end in _spans(lines):
                batch = uuid.uuid4().hex[:16]
                records.append((b"pb\x00" + batch.encode(), "\n".join(lines[start:end]).encode()))
                for event_id in ids[start:end]:
                    self._batch_of[event_id] = batch
                self._live[batch] = end - start
            self._new = {}
        if self._gone:
            emptied: set[str] = set()
            for start, end in _spans(self._gone):
                chunk = self._gone[start:end]
                removals = uuid.uuid4().hex[:16]
                records.append((b"px\x00" + removals.encode(), "\n".join(chunk).encode()))
                touched: set[str] = set()
                for event_id in chunk:
                    batch = self._batch_of.pop(event_id, None)
                    if batch is not None:
                        self._live[batch] -= 1
                        touched.add(batch)
                self._refs[removals] = touched
                for batch in touched:
                    self._named_by.setdefault(batch, set()).add(removals)
                emptied |= touched
            self._gone = []
            for batch in emptied:
                if self._live[batch] == 0:
                    records += self._retire(batch)
        return records

    def _retire(self, batch: str) -> list[tuple[bytes, bytes | None]]:
        """Tombstone an emptied batch, and every removals record left naming nothing."""
        del self._live[batch]
        records: list[tuple[bytes, bytes | None]] = [(b"pb\x00" + batch.encode(), None)]
        for removals in self._named_by.pop(batch, set()):
            refs = self._refs.get(removals)
            if refs is None:
                continue
            refs.discard(batch)
            if not refs:
                del self._refs[removals]
                records.append((b"px\x00" + removals.encode(), None))
        return records

    # -- restore --------------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None) -> None:
        if self._restoring is None:
            self._restoring = ({}, {})
        batches, removals = self._restoring
        kind, _, ident = key.partition(b"\x00")
        name = ident.decode()
        if kind == b"pb":
            if value is None:
                batches.pop(name, None)
            else:
                batches[name] = dict(
                    line.split("\x1f", 1) for line in value.decode().split("\n") if line
                )
        elif kind == b"px":
            if value is None:
                removals.pop(name, None)
            else:
                removals[name] = value.decode().split("\n")

    def finish(self) -> list[tuple[str, str]]:
        """After the last ``restore``: the entries still pending, in batch order."""
        batches, removals = self._restoring or ({}, {})
        self._restoring = None
        gone = {event_id for ids in removals.values() for event_id in ids}
        alive: list[tuple[str, str]] = []
        for batch, entries in batches.items():
            left = [(k, v) for k, v in entries.items() if k not in gone]
            if not left:
                self._gone_batch_on_next_drain(batch)
                continue
            self._live[batch] = len(left)
            for event_id, _ in left:
                self._batch_of[event_id] = batch
            alive += left
        for name, ids in removals.items():
            named = {b for b in batches if any(i in batches[b] for i in ids)} & set(self._live)
            if named:
                self._refs[name] = named
                for batch in named:
                    self._named_by.setdefault(batch, set()).add(name)
            else:
                self._stale.append(b"px\x00" + name.encode())
        return alive

    def _gone_batch_on_next_drain(self, batch: str) -> None:
        self._stale.append(b"pb\x00" + batch.encode())

    def stale(self) -> list[tuple[bytes, None]]:
        """Records found empty at restore, to tombstone with the next commit."""
        found, self._stale = self._stale, []
        return [(key, None) for key in found]
