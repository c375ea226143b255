"""Cold days into the archive tier, and each tier's retention, for one topic partition.

A day of a partition leaves the cold tier ``cold`` after it ended (:mod:`.policy`): its
cold parts are read, sorted by offset (a record that a stale writer left twice is kept
once), written as one archive part at a high zstd level that lists them in ``wk.sources``,
and then deleted. Killed between the write and the deletes, readers already skip the
replaced parts (``layout.readable``) and the next round deletes them. Only parts wholly
below the committed offset are touched: the rest may still be redone by recovery. With
the archive tier off, the day's cold parts are deleted instead. An archive part is deleted
``archive`` after its day ended.

>>> import tempfile, pyarrow as pa
>>> from watchkeeper.tiering.layout import DAY_MS, cold_path
>>> from watchkeeper.tiering.store import Store
>>> from .policy import Retention
>>> store = Store.open(tempfile.mkdtemp())
>>> def rows(offsets):
...     return pa.table({"_offset": pa.array(offsets, pa.int64()), "v": [o * 2 for o in offsets]})
>>> _ = store.write(cold_path("feedback", 0, 1, 0, 1), rows([0, 1]), 3)
>>> _ = store.write(cold_path("feedback", 3_600_000, 1, 2, 3), rows([2, 3]), 3)
>>> policy = Retention(cold_s=0, archive_s=86400 * 2)
>>> report = maintain(store, "feedback", 1, below=4, retention=policy, now_ms=DAY_MS, level=19)
>>> [(c.rows, len(c.sources)) for c in report.compacted], [p.tier for p in store.parts()]
([(4, 2)], ['archive'])
>>> store.read(store.parts()[0].path)["v"].to_pylist()
[0, 2, 4, 6]
>>> dict(maintain(store, "feedback", 1, 4, policy, now_ms=3 * DAY_MS, level=19).deleted)
{'archive': 1}
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from watchkeeper.tiering.layout import ARCHIVE, COLD, DAY_MS, Part, archive_path
from watchkeeper.tiering.store import Store

from .policy import Retention


@dataclass(frozen=True)
class Compacted:
    path: str
    rows: int
    bytes: int
    sources: list[str]


@dataclass
class Report:
    compacted: list[Compacted] = field(default_factory=list)
    deleted: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def day_end_ms(part: Part) -> int:
    return part.span_ms()[0] + (DAY_MS if part.hour is None else DAY_MS - part.hour * 3_600_000)


def _due(part: Part, after_s: float, now_ms: int) -> bool:
    return not math.isinf(after_s) and day_end_ms(part) + after_s * 1000 <= now_ms


def merged(store: Store, paths: list[str]) -> pa.Table:
    """The parts' rows in one table, by offset, each offset once."""
    tables = [store.read(p) for p in paths]
    metadata = tables[-1].schema.metadata
    table = pa.concat_tables(tables, promote_options="default").sort_by("_offset")
    offsets = table["_offset"].combine_chunks()
    if len(offsets) > 1:
        repeats = pc.equal(offsets.slice(1), offsets.slice(0, len(offsets) - 1))
        keep = pa.concat_arrays([pa.array([True]), pc.invert(repeats)])
        table = table.filter(keep)
    return table.replace_schema_metadata(metadata)


def maintain(
    store: Store,
    topic: str,
    partition: int,
    below: int,
    retention: Retention,
    now_ms: int,
    level: int,
) -> Report:
    """One round for (``topic``, ``partition``): finish cut-short compactions, compact or
    delete the cold days that are due, delete the archive days that are due. Raises what
    the filesystem raises; a retried round picks up where this one stopped."""
    report = Report()
    parts = [p for p in store.parts(topic=topic) if p.partition == partition]
    archived = [p for p in parts if p.tier == ARCHIVE]
    replaced = {s for p in archived for s in store.sources(p.path)}
    cold_days: dict[str, list[Part]] = defaultdict(list)
    for part in parts:
        if part.tier != COLD:
            continue
        if part.path in replaced:  # a compaction wrote its archive part, then stopped
            store.delete(part.path)
            report.deleted[COLD] += 1
        elif part.last < below and _due(part, retention.cold_s, now_ms):
            cold_days[part.date].append(part)
    for date, day in sorted(cold_days.items()):
        paths = [p.path for p in sorted(day, key=lambda p: p.first)]
        if retention.archived:
            table = merged(store, paths)
            offsets = table["_offset"]
            path = archive_path(topic, date, partition, offsets[0].as_py(), offsets[-1].as_py())
            size = store.write(path, table, level, sources=paths)
            report.compacted.append(Compacted(path, table.num_rows, size, paths))
        for source in paths:
            store.delete(source)
        if not retention.archived:
            report.deleted[COLD] += len(paths)
    for part in archived:
        if _due(part, retention.archive_s, now_ms):
            store.delete(part.path)
            report.deleted[ARCHIVE] += 1
    return report
