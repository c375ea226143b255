"""One topic-partition's records as an Avro container file (fastavro): self-describing, so
any Avro tool reads a member; uncompressed inside, the archive's zstd compresses it all.

A record keeps what a restore needs to write it back the same: key, value, headers (in
order, duplicates kept), timestamp and its type, and the source offset (for the audit;
a restore cannot keep offsets, see docs/disaster-recovery.md).

>>> import io
>>> rec = Record(offset=7, timestamp_ms=1765000000000, timestamp_type=1, key=b"k",
...              value=None, headers=[("trace", b"1"), ("trace", None)])
>>> buf = io.BytesIO()
>>> stats = write(buf, iter([rec]))
>>> (stats.records, stats.first_offset, stats.last_offset)
(1, 7, 7)
>>> _ = buf.seek(0)
>>> list(read(buf)) == [rec]
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, NamedTuple

import fastavro
import fastavro.write

from .errors import ArchiveError

# confluent_kafka's TIMESTAMP_* values, kept as numbers so this module needs no Kafka.
TIMESTAMP_NOT_AVAILABLE, CREATE_TIME, LOG_APPEND_TIME = 0, 1, 2

SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "KafkaRecord",
        "namespace": "watchkeeper.backup",
        "fields": [
            {"name": "offset", "type": "long"},
            {"name": "timestamp_ms", "type": "long"},
            {"name": "timestamp_type", "type": "int"},
            {"name": "key", "type": ["null", "bytes"]},
            {"name": "value", "type": ["null", "bytes"]},
            {
                "name": "headers",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "Header",
                        "fields": [
                            {"name": "key", "type": "string"},
                            {"name": "value", "type": ["null", "bytes"]},
                        ],
                    },
                },
            },
        ],
    }
)


class Record(NamedTuple):
    offset: int
    timestamp_ms: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]

    def same_content(self, other: Record) -> bool:
        """Equal but for the offset and timestamp type, which a restore cannot keep."""
        return (self.timestamp_ms, self.key, self.value, self.headers) == (
            other.timestamp_ms,
            other.key,
            other.value,
            other.headers,
        )


@dataclass
class Stats:
    records: int = 0
    first_offset: int | None = None
    last_offset: int | None = None
    first_timestamp_ms: int | None = None
    last_timestamp_ms: int | None = None

    def add(self, record: Record) -> None:
        if self.first_offset is None:
            self.first_offset = record.offset
        self.last_offset = record.offset
        ts = record.timestamp_ms
        if ts >= 0:
            first = self.first_timestamp_ms
            self.first_timestamp_ms = ts if first is None else min(first, ts)
            self.last_timestamp_ms = max(self.last_timestamp_ms or ts, ts)
        self.records += 1


def _as_dict(record: Record) -> dict:
    return {
        "offset": record.offset,
        "timestamp_ms": record.timestamp_ms,
        "timestamp_type": record.timestamp_type,
        "key": record.key,
        "value": record.value,
        "headers": [{"key": k, "value": v} for k, v in record.headers],
    }


class RecordFile:
    """A container file written a record at a time (a backup reads every partition at
    once, so each partition's file grows as its records arrive)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.stats = Stats()
        self._writer = fastavro.write.Writer(out, SCHEMA, codec="null", sync_interval=256 << 10)

    def add(self, record: Record) -> None:
        self.stats.add(record)
        self._writer.write(_as_dict(record))

    def finish(self) -> Stats:
        self._writer.flush()
        return self.stats


def write(out: IO[bytes], records: Iterable[Record]) -> Stats:
    """Write ``records`` as one container file; return what was written."""
    file = RecordFile(out)
    for record in records:
        file.add(record)
    return file.finish()


def read(source: IO[bytes]) -> Iterator[Record]:
    """The records of one container file, in order; a damaged file raises ArchiveError."""
    try:
        for raw in fastavro.reader(source):
            yield Record(
                raw["offset"],
                raw["timestamp_ms"],
                raw["timestamp_type"],
                raw["key"],
                raw["value"],
                [(h["key"], h["value"]) for h in raw["headers"]],
            )
    except ArchiveError:
        raise
    except Exception as exc:  # fastavro meets junk with any of a dozen exception types
        raise ArchiveError(f"not a readable record file: {exc!r}") from None
