"""A partition's batch into the cold tier: one zstd Parquet part per hour bucket.

>>> import tempfile
>>> from watchkeeper.codec import Codec
>>> from watchkeeper.tiering.columns import Columns, Coordinates
>>> from watchkeeper.tiering.store import Store
>>> from .buffer import Buffers
>>> codec, store = Codec(), Store.open(tempfile.mkdtemp())
>>> event = {"event_id": "e1", "event_time_ms": 0, "model": "fraud", "label": "fraud"}
>>> record = codec.decode(codec.encode("FeedbackEvent", event)).record
>>> buffers = Buffers(10, 1.0)
>>> for offset in (4, 5):
...     buffers.add(Coordinates("wk.feedback", 2, offset, 1767225600000, b"k"), record, 0.0)
>>> written = write_batch(store, "feedback", Columns.of(codec, "FeedbackEvent"),
...                       buffers.take(("wk.feedback", 2)), level=3)
>>> [(w.path.split("/")[-1], w.rows) for w in written]
[('p0002-00000000000000000004-00000000000000000005.parquet', 2)]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from watchkeeper.tiering.columns import Columns
from watchkeeper.tiering.layout import cold_path
from watchkeeper.tiering.store import Store

from .buffer import Batch


@dataclass(frozen=True)
class Written:
    path: str
    rows: int
    bytes: int


def write_parts(
    store: Store, topic: str, columns: Columns, batch: Batch, level: int
) -> Iterator[Written]:
    """Write every bucket of ``batch`` (``topic``: the logical name the paths use), yielding
    each part once it is whole, so that a caller knows which were written when one raises.
    Raises what the filesystem raises."""
    for bucket in batch.buckets:
        offsets = [c.offset for c in bucket.coordinates]
        path = cold_path(topic, bucket.timestamp_ms, batch.partition, offsets[0], offsets[-1])
        table = columns.table(bucket.coordinates, bucket.records)
        yield Written(path, table.num_rows, store.write(path, table, level))


def write_batch(
    store: Store, topic: str, columns: Columns, batch: Batch, level: int
) -> list[Written]:
    return list(write_parts(store, topic, columns, batch, level))
