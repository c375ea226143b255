"""Replication lag of one partition, free of Kafka: what is on a and not yet on b.

MirrorMaker copies a partition in order and keeps each record's timestamp, key and value,
so b's newest record names a record of a: the *first missing* record is the first
committed record on a after it. From it:

* ``records``: a's end offset minus the first missing record's offset (0 exactly when
  nothing is missing; transaction markers inside that span count too, so it is an upper
  bound of the records to copy, not a count of them);
* ``seconds``: now minus the first missing record's timestamp, i.e. the age of the oldest
  record not yet on b (0 when nothing is missing). This is what a failover loses if a dies
  now, in time: the RPO it would cost.

>>> lag = PartitionLag.of("wk.x", 0, source_end=120, first_missing=(100, 5_000), now_ms=9_000)
>>> lag.records, lag.seconds
(20, 4.0)
>>> PartitionLag.of("wk.x", 0, source_end=120, first_missing=None, now_ms=9_000).records
0

Matching b's newest record on a: records of the same millisecond are told apart by key and
value; the first match wins, which can only over-state the lag (never hide any):

>>> newest_b = Record(0, 5_000, b"k", b"v2")
>>> candidates = [Record(7, 5_000, b"k", b"v1"), Record(8, 5_000, b"k", b"v2"),
...               Record(9, 5_001, b"k", b"v3")]
>>> match(newest_b, candidates)
8
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None

    def same_as(self, other: Record) -> bool:
        return (self.timestamp_ms, self.key, self.value) == (
            other.timestamp_ms,
            other.key,
            other.value,
        )


def match(newest_on_b: Record, candidates: Iterable[Record]) -> int | None:
    """The offset on a of the record equal to ``newest_on_b`` among ``candidates`` (a's
    records from the first one of its timestamp on), or None if none is."""
    for record in candidates:
        if record.timestamp_ms > newest_on_b.timestamp_ms:
            return None
        if record.same_as(newest_on_b):
            return record.offset
    return None


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    records: int
    seconds: float

    @classmethod
    def of(
        cls,
        topic: str,
        partition: int,
        source_end: int,
        first_missing: tuple[int, int] | None,
        now_ms: int,
    ) -> PartitionLag:
        """``first_missing``: (offset, timestamp ms) of a's first record not on b."""
        if first_missing is None:
            return cls(topic, partition, 0, 0.0)
        offset, timestamp_ms = first_missing
        return cls(
            topic,
            partition,
            max(0, source_end - offset),
            max(0.0, (now_ms - timestamp_ms) / 1000.0),
        )
