"""Where a newly assigned partition resumes, and what a flush that never committed left.

A flush writes its parts and then commits. Killed in between, it leaves parts whose
``first`` is at or after the group's committed offset; reading again from that offset
would write those records a second time. So before consuming a partition: its cold parts
with ``first >= committed`` are deleted, and consumption starts at ``committed``.

With no committed offset (a new group over an existing store, or a kill before the very
first commit) nothing is deleted: the partition resumes after the highest offset any part
of either tier holds, or from the start of the log when there is none.

>>> import tempfile, pyarrow as pa
>>> from watchkeeper.tiering.layout import cold_path
>>> from watchkeeper.tiering.store import Store
>>> store = Store.open(tempfile.mkdtemp())
>>> for first, last in ((0, 9), (10, 19)):
...     _ = store.write(cold_path("feedback", 0, 1, first, last), pa.table({"x": [1]}), 3)
>>> found = resume(store, "feedback", 1, committed=10)
>>> found.offset, [path.rsplit("/", 1)[1] for path in found.deleted]
(10, ['p0001-00000000000000000010-00000000000000000019.parquet'])
>>> resume(store, "feedback", 1, committed=None), resume(store, "feedback", 2, None).offset
(Resume(offset=10, deleted=[]), None)
"""

from __future__ import annotations

from typing import NamedTuple

from watchkeeper.tiering.layout import COLD
from watchkeeper.tiering.store import Store


class Resume(NamedTuple):
    offset: int | None  # None: the start of the log
    deleted: list[str]


def resume(store: Store, topic: str, partition: int, committed: int | None) -> Resume:
    """Clean up after an uncommitted flush of (``topic``, ``partition``) and say where to
    read from. Raises what the filesystem raises (the caller retries)."""
    parts = [p for p in store.parts(topic=topic) if p.partition == partition]
    if committed is None:
        ends = [p.last + 1 for p in parts]
        return Resume(max(ends) if ends else None, [])
    stale = [p.path for p in parts if p.tier == COLD and p.first >= committed]
    for path in stale:
        store.delete(path)
    return Resume(committed, stale)
