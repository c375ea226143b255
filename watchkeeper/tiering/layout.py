"""Where each file of the cold and archive tiers lives, and what its name says.

Paths are relative to the tier root, Hive-style so that DuckDB, Spark and pyarrow datasets
see ``topic``, ``date`` and ``hour`` as columns::

    cold/topic=<topic>/date=<YYYY-MM-DD>/hour=<HH>/p<partition>-<first>-<last>.parquet
    archive/topic=<topic>/date=<YYYY-MM-DD>/p<partition>-<first>-<last>.parquet

``<topic>`` is the logical name (``predictions``, without the installation's prefix),
``<partition>`` four digits, ``<first>`` and ``<last>`` the lowest and highest Kafka offset
of the file's records, twenty digits, so names sort in offset order. Date and hour are the
UTC bucket of each record's Kafka timestamp. One file holds records of one partition and
one bucket; the offsets between ``first`` and ``last`` can be in other buckets' files.

An archive file names the cold files it replaced in its Parquet metadata (``wk.sources``):
a reader takes the archive files and the cold files none of them lists, so a compaction cut
short between writing the archive file and deleting its sources never doubles a record.

>>> path = cold_path("predictions", 1_767_225_600_000 + 13 * 3_600_000 + 5, 3, 100, 999)
>>> path
'cold/topic=predictions/date=2026-01-01/hour=13/p0003-00000000000000000100-00000000000000000999.parquet'
>>> part = parse_path(path)
>>> part.tier, part.topic, part.date, part.hour, part.partition, part.first, part.last
('cold', 'predictions', '2026-01-01', 13, 3, 100, 999)
>>> parse_path(archive_path("predictions", "2026-01-01", 3, 100, 5000)).hour is None
True
>>> parse_path("cold/topic=predictions/date=2026-01-01/hour=13/.p0003-tmp.parquet") is None
True
>>> part.span_ms() == (1_767_225_600_000 + 13 * 3_600_000, 1_767_225_600_000 + 14 * 3_600_000)
True
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

COLD, ARCHIVE = "cold", "archive"
TIERS = (COLD, ARCHIVE)
SOURCES_KEY = b"wk.sources"  # an archive file's metadata: the cold files it replaced (JSON)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

_NAME = r"p(?P<partition>\d{4})-(?P<first>\d{20})-(?P<last>\d{20})\.parquet"
_COLD = re.compile(
    rf"cold/topic=(?P<topic>[A-Za-z0-9._-]+)/date=(?P<date>\d{{4}}-\d\d-\d\d)/hour=(?P<hour>\d\d)/{_NAME}"
)
_ARCHIVE = re.compile(
    rf"archive/topic=(?P<topic>[A-Za-z0-9._-]+)/date=(?P<date>\d{{4}}-\d\d-\d\d)/{_NAME}"
)


@dataclass(frozen=True, order=True)
class Part:
    """One file of a tier, as its path describes it."""

    tier: str
    topic: str
    date: str
    hour: int | None  # None in the archive tier: one file per partition and day
    partition: int
    first: int
    last: int
    path: str  # relative to the root, '/'-separated

    def span_ms(self) -> tuple[int, int]:
        """The timestamps its records can have: ``[start, end)`` of its hour or day."""
        day = _day_start_ms(self.date)
        if self.hour is None:
            return day, day + DAY_MS
        return day + self.hour * HOUR_MS, day + (self.hour + 1) * HOUR_MS

    def overlaps(self, since_ms: int | None, until_ms: int | None) -> bool:
        start, end = self.span_ms()
        return (since_ms is None or end > since_ms) and (until_ms is None or start < until_ms)


def bucket_of(timestamp_ms: int) -> tuple[str, int]:
    """The UTC date and hour of a record's timestamp."""
    moment = dt.datetime.fromtimestamp(timestamp_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d"), moment.hour


def _file(partition: int, first: int, last: int) -> str:
    if not 0 <= first <= last:
        raise ValueError(f"offsets {first}..{last} are not a range")
    return f"p{partition:04d}-{first:020d}-{last:020d}.parquet"


def cold_path(topic: str, timestamp_ms: int, partition: int, first: int, last: int) -> str:
    date, hour = bucket_of(timestamp_ms)
    return f"{COLD}/topic={topic}/date={date}/hour={hour:02d}/{_file(partition, first, last)}"


def archive_path(topic: str, date: str, partition: int, first: int, last: int) -> str:
    return f"{ARCHIVE}/topic={topic}/date={date}/{_file(partition, first, last)}"


def parse_path(path: str) -> Part | None:
    """The part a relative path names; None for anything else (temporary files, strays)."""
    match = _COLD.fullmatch(path)
    tier = COLD
    if match is None:
        match = _ARCHIVE.fullmatch(path)
        tier = ARCHIVE
    if match is None:
        return None
    hour = match.groupdict().get("hour")
    return Part(
        tier,
        match["topic"],
        match["date"],
        None if hour is None else int(hour),
        int(match["partition"]),
        int(match["first"]),
        int(match["last"]),
        path,
    )


def readable(parts: list[Part], replaced: set[str]) -> list[Part]:
    """The parts a reader takes: every archive part, and the cold ones no archive part
    replaced (``replaced``: the union of the archive parts' ``wk.sources``)."""
    return sorted(p for p in parts if p.tier == ARCHIVE or p.path not in replaced)


def _day_start_ms(date: str) -> int:
    day = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    return int(day.timestamp() * 1000)
