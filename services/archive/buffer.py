"""What has been read but not yet written: per topic partition, the decoded records by hour
bucket, and the offset a flush of that partition commits.

A partition is flushed whole: one cold part per hour bucket it holds, then one commit of
the offset after the last record read (a dead-lettered one included). So a flush covers
``[committed, next)`` exactly, and every part it wrote has ``first >= committed``: what
:mod:`.recovery` deletes when the commit never happened.

>>> from watchkeeper.tiering.columns import Coordinates
>>> buffers = Buffers(max_records=2, max_age_s=60.0)
>>> hour = 3_600_000
>>> buffers.add(Coordinates("wk.feedback", 1, 10, 5 * hour, b"k"), {"a": 1}, now_s=0.0)
>>> buffers.skip("wk.feedback", 1, 11, now_s=0.0)  # a dead letter: committed, not written
>>> buffers.due(now_s=1.0), buffers.due(now_s=61.0)
([], [('wk.feedback', 1)])
>>> buffers.add(Coordinates("wk.feedback", 1, 12, 6 * hour, b"k"), {"a": 2}, now_s=2.0)
>>> batch = buffers.take(("wk.feedback", 1))
>>> batch.next_offset, [(b.timestamp_ms // hour, len(b.records)) for b in batch.buckets]
(13, [(5, 1), (6, 1)])
>>> len(buffers), buffers.due(now_s=99.0)
(0, [])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.tiering.columns import Coordinates
from watchkeeper.tiering.layout import HOUR_MS

TopicPartition = tuple[str, int]


@dataclass
class Bucket:
    """The records of one partition in one UTC hour, in offset order."""

    timestamp_ms: int  # any timestamp of the hour: names the bucket's path
    coordinates: list[Coordinates] = field(default_factory=list)
    records: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass
class Batch:
    """One partition's buffered records, and the offset to commit once they are written."""

    topic: str
    partition: int
    next_offset: int
    buckets: list[Bucket]
    count: int


@dataclass
class _Pending:
    since_s: float
    next_offset: int = -1
    count: int = 0
    buckets: dict[int, Bucket] = field(default_factory=dict)


class Buffers:
    """Flush a partition when it holds ``max_records`` records or its oldest waited
    ``max_age_s`` seconds (``now_s`` is a monotonic clock)."""

    def __init__(self, max_records: int, max_age_s: float) -> None:
        self.max_records = max_records
        self.max_age_s = max_age_s
        self._pending: dict[TopicPartition, _Pending] = {}

    def __len__(self) -> int:
        return sum(p.count for p in self._pending.values())

    def _of(self, topic: str, partition: int, now_s: float) -> _Pending:
        pending = self._pending.get((topic, partition))
        if pending is None:
            pending = self._pending[(topic, partition)] = _Pending(now_s)
        return pending

    def add(self, coordinates: Coordinates, record: Mapping[str, Any], now_s: float) -> None:
        pending = self._of(coordinates.topic, coordinates.partition, now_s)
        hour = coordinates.timestamp_ms // HOUR_MS
        bucket = pending.buckets.get(hour)
        if bucket is None:
            bucket = pending.buckets[hour] = Bucket(coordinates.timestamp_ms)
        bucket.coordinates.append(coordinates)
        bucket.records.append(record)
        pending.count += 1
        pending.next_offset = coordinates.offset + 1

    def skip(self, topic: str, partition: int, offset: int, now_s: float) -> None:
        """A record that was read but is not written (dead-lettered): committed with the
        next flush of its partition."""
        self._of(topic, partition, now_s).next_offset = offset + 1

    def due(self, now_s: float) -> list[TopicPartition]:
        return sorted(
            tp
            for tp, p in self._pending.items()
            if p.count >= self.max_records or now_s - p.since_s >= self.max_age_s
        )

    def partitions(self) -> list[TopicPartition]:
        return sorted(self._pending)

    def take(self, tp: TopicPartition) -> Batch:
        """Remove and return the partition's batch (put it back with :meth:`restore`)."""
        pending = self._pending.pop(tp)
        buckets = [pending.buckets[h] for h in sorted(pending.buckets)]
        return Batch(tp[0], tp[1], pending.next_offset, buckets, pending.count)

    def restore(self, batch: Batch, since_s: float) -> None:
        """Put back a batch whose flush failed, ahead of anything read since."""
        later = self._pending.pop((batch.topic, batch.partition), None)
        merged = _Pending(since_s, batch.next_offset, batch.count)
        for bucket in batch.buckets:
            merged.buckets[bucket.timestamp_ms // HOUR_MS] = bucket
        self._pending[(batch.topic, batch.partition)] = merged
        if later is not None:  # nothing is read while failing, but be exact if it was
            for bucket in later.buckets.values():
                for coordinates, record in zip(bucket.coordinates, bucket.records, strict=True):
                    self.add(coordinates, record, since_s)
            merged.next_offset = max(merged.next_offset, later.next_offset)

    def drop(self, tp: TopicPartition) -> int:
        """Forget a partition (revoked): what it held is read again by its next owner."""
        pending = self._pending.pop(tp, None)
        return 0 if pending is None else pending.count
