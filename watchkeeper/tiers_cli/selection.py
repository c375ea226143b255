"""Which parts a reader takes, and which of their rows: the tier asked for, the time range
``[since, until)`` on each record's Kafka timestamp, an optional SQL condition, one
partition at a time in offset order.

Every check that can refuse the request runs before a row is read: an unknown topic, an
empty range, a root with no parts, a part whose Parquet footer does not read or whose
records are another event type. A refusal is :class:`BadInput` (exit 2 on the command
line), its message naming the file.

>>> import tempfile
>>> from watchkeeper.tiering.store import Store
>>> select(Store.open(tempfile.mkdtemp()), "predictions", "all", 0, 1)
Traceback (most recent call last):
...
watchkeeper.tiers_cli.selection.BadInput: ...: no cold or archive parts under this root
>>> data_topic("nope")
Traceback (most recent call last):
...
watchkeeper.tiers_cli.selection.BadInput: unknown topic 'nope': the data topics are ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..tiering.columns import SCHEMA_KEY, Columns
from ..tiering.layout import ARCHIVE, COLD, Part
from ..tiering.store import Store
from ..topics import TOPICS, TopicSpec

TIERS = (COLD, ARCHIVE, "all")


class BadInput(ValueError):
    """The request cannot be served as given; the message says why (exit 2)."""


def data_topic(name: str) -> TopicSpec:
    """The declared topic ``name`` (logical, without prefix) whose values are events."""
    for spec in TOPICS:
        if spec.name == name and spec.schema:
            return spec
    known = ", ".join(s.name for s in TOPICS if s.schema)
    raise BadInput(f"unknown topic {name!r}: the data topics are {known}")


def check_range(since_ms: int | None, until_ms: int | None) -> None:
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise BadInput(f"--since ({since_ms}) must be before --until ({until_ms})")


def select(
    store: Store, topic: str, tier: str, since_ms: int | None, until_ms: int | None
) -> list[Part]:
    """The parts of ``topic`` to read: ``all`` takes the readable set (archive parts and the
    cold parts none of them replaced), ``cold`` or ``archive`` that tier's parts only."""
    if tier not in TIERS:
        raise BadInput(f"--from must be one of {', '.join(TIERS)}, got {tier!r}")
    if not store.parts():
        raise BadInput(f"{store.url}: no cold or archive parts under this root")
    if tier == "all":
        # The readable set reads every archive part's metadata: a broken one is named here.
        check_parts(store, store.parts(tier=ARCHIVE, topic=topic))
        return store.readable(topic, since_ms, until_ms)
    return [p for p in store.parts(tier=tier, topic=topic) if p.overlaps(since_ms, until_ms)]


def check_parts(store: Store, parts: list[Part], record_type: str | None = None) -> None:
    """Read every part's footer; the first that does not read, or holds another event
    type than ``record_type``, refuses the whole request before anything is sent."""
    for part in parts:
        where = store.location(part.path)
        try:
            with store.fs.open_input_file(store._abs(part.path)) as handle:
                metadata = pq.read_metadata(handle)
        except (OSError, pa.ArrowException) as exc:
            raise BadInput(f"{where}: not a readable Parquet file ({exc})") from None
        found = (metadata.metadata or {}).get(SCHEMA_KEY, b"").decode()
        if record_type is not None and found != record_type:
            raise BadInput(f"{where}: holds {found or 'no'} events, not {record_type}")


def partition_tables(
    store: Store,
    parts: list[Part],
    columns: Columns,
    since_ms: int | None,
    until_ms: int | None,
    where: str | None = None,
    after: dict[int, int] | None = None,
) -> Iterator[tuple[int, pa.Table]]:
    """(partition, its selected rows in offset order), partition by partition. ``after``
    skips the offsets up to a checkpoint; a record in two parts (never, in a readable
    set) is taken once."""
    after = after or {}
    by_partition: dict[int, list[Part]] = {}
    for part in parts:
        by_partition.setdefault(part.partition, []).append(part)
    for partition in sorted(by_partition):
        tables = []
        for part in by_partition[partition]:
            table = conform(store.read(part.path), columns)
            table = _filter(table, since_ms, until_ms, after.get(partition))
            if where and table.num_rows:
                table = _where(table, where)
            if table.num_rows:
                tables.append(table)
        if tables:
            yield partition, _in_offset_order(pa.concat_tables(tables))


def conform(table: pa.Table, columns: Columns) -> pa.Table:
    """``table`` with the current schema's columns in order: a field an older file lacks
    gets its Avro default (or null), so that parts of any version concatenate."""
    arrays = []
    for field in columns.schema:
        if field.name in table.column_names:
            arrays.append(table.column(field.name).cast(field.type))
        else:
            value = columns.defaults.get(field.name)
            arrays.append(pa.array([value] * table.num_rows, type=field.type))
    return pa.Table.from_arrays(arrays, schema=columns.schema)


def _filter(
    table: pa.Table, since_ms: int | None, until_ms: int | None, after: int | None
) -> pa.Table:
    mask: Any = None
    stamp, offset = table.column("_timestamp_ms"), table.column("_offset")
    for condition in (
        None if since_ms is None else pc.greater_equal(stamp, since_ms),
        None if until_ms is None else pc.less(stamp, until_ms),
        None if after is None else pc.greater(offset, after),
    ):
        if condition is not None:
            mask = condition if mask is None else pc.and_(mask, condition)
    return table if mask is None else table.filter(mask)


def _where(table: pa.Table, where: str) -> pa.Table:
    import duckdb

    connection = duckdb.connect()
    try:
        # DuckDB picks the rows, Arrow keeps them: the columns keep their exact types.
        numbered = table.append_column("__row", pa.array(np.arange(table.num_rows)))
        connection.register("part", numbered)
        sql = f"SELECT __row FROM part WHERE ({where}) ORDER BY __row"
        statements = connection.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise BadInput(f"--where {where!r}: one condition, not statements")
        return table.take(connection.sql(sql).to_arrow_table().column("__row"))
    except duckdb.Error as exc:
        raise BadInput(f"--where {where!r}: {exc}") from None
    finally:
        connection.close()


def check_where(columns: Columns, where: str | None) -> None:
    """Refuse a condition that does not compile against the topic's columns, before any
    part is read (a part with no matching rows would otherwise never try it)."""
    if where:
        _where(columns.schema.empty_table(), where)


def _in_offset_order(table: pa.Table) -> pa.Table:
    table = table.sort_by([("_offset", "ascending")])
    offsets = table.column("_offset").to_numpy()
    if len(offsets) > 1 and (offsets[1:] == offsets[:-1]).any():
        table = table.filter(pa.array(np.concatenate([[True], offsets[1:] != offsets[:-1]])))
    return table
