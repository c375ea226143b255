"""Where a newly assigned partition resumes, and what a flush that never committed left.

A flush writes its parts and then commits. Killed in between, it leaves parts whose
``first`` is at or after the group's committed offset (and, since one flush writes one
part per hour bucket, not necessarily the lowest of them); reading again from that offset
would write those records a second time. So before consuming a partition: its cold parts
with ``first >= committed`` are deleted, and consumption starts at ``committed``.

With no committed offset (a kill before the very first commit, or a new group over an
existing store) the partition starts at the start of its log, or after the highest offset
of its archive parts if that is later (compaction only ever covers committed offsets, so
the archive holds a prefix of the partition); cold parts from there on are deleted and
written again. Never "after the highest offset the store holds": the parts of one
uncommitted flush can leave a gap below it.

>>> import tempfile, pyarrow as pa
>>> from watchkeeper.tiering.layout import archive_path, cold_path
>>> from watchkeeper.tiering.store import Store
>>> store = Store.open(tempfile.mkdtemp())
>>> for first, last in ((0, 9), (10, 19)):
...     _ = store.write(cold_path("feedback", 0, 1, first, last), pa.table({"x": [1]}), 3)
>>> found = resume(store, "feedback", 1, committed=10, log_start=0)
>>> found.offset, [path.rsplit("/", 1)[1] for path in found.deleted]
(10, ['p0001-00000000000000000010-00000000000000000019.parquet'])
>>> resume(store, "feedback", 1, committed=None, log_start=0).offset  # 0-9 redone too
0
>>> _ = store.write(archive_path("feedback", "1970-01-01", 2, 0, 49), pa.table({"x": [1]}), 19)
>>> resume(store, "feedback", 2, committed=None, log_start=0).offset
50
"""

from __future__ import annotations

from typing import NamedTuple

from watchkeeper.tiering.layout import ARCHIVE, COLD
from watchkeeper.tiering.store import Store


class Resume(NamedTuple):
    offset: int
    deleted: list[str]


def resume(
    store: Store, topic: str, partition: int, committed: int | None, log_start: int
) -> Resume:
    """Clean up after an uncommitted flush of (``topic``, ``partition``) and say where to
    read from. ``log_start``: the partition's first offset in Kafka now. Raises what the
    filesystem raises (the caller retries)."""
    parts = [p for p in store.parts(topic=topic) if p.partition == partition]
    if committed is None:
        archived = [p.last + 1 for p in parts if p.tier == ARCHIVE]
        committed = max([log_start, *archived])
    stale = [p.path for p in parts if p.tier == COLD and p.first >= committed]
    for path in stale:
        store.delete(path)
    return Resume(committed, stale)
