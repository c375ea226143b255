"""``watchkeeper query "SQL"``: DuckDB over the cold and archive tiers, one view per topic.

A topic's view reads exactly its readable parts — the archive parts and the cold parts no
archive part replaced — listed file by file (a glob of both tiers would count the records
of a compaction cut short twice). Beside the event's fields and the Kafka coordinates
(``_partition``, ``_offset``, ``_timestamp_ms``, ...) each row has the Hive columns
``topic``, ``date`` (DATE) and ``hour`` (INTEGER; in an archive part, the hour of the
record's timestamp). Maps are DuckDB maps: ``num_features['amount']``.

The connection only reads: a statement other than SELECT or EXPLAIN is refused, and on a
local store file access is limited to the root and the configuration locked, so neither
``COPY ... TO`` nor ``read_csv('/etc/...')`` gets through.

>>> import tempfile
>>> from watchkeeper.tiering.store import Store
>>> run(Store.open(tempfile.mkdtemp()), "COPY (SELECT 1) TO 'x.csv'")
Traceback (most recent call last):
...
watchkeeper.tiers_cli.selection.BadInput: only SELECT (or EXPLAIN) reads the tiers; got COPY
>>> run(Store.open(tempfile.mkdtemp()), "SELECT 6 * 7 AS answer").to_pylist()
[{'answer': 42}]
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import duckdb
import pyarrow as pa
from pyarrow.fs import PyFileSystem

from ..tiering.layout import ARCHIVE, COLD, Part
from ..tiering.store import Store
from .selection import BadInput, check_parts

ALLOWED = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def topics(store: Store) -> list[str]:
    """The topics the root holds parts of."""
    return sorted({p.topic for p in store.parts()})


def view_sql(store: Store, parts: list[Part]) -> str | None:
    """The SELECT over exactly ``parts`` (a topic's readable ones), or None for none."""
    selects = []
    for tier, hour in ((COLD, "CAST(hour AS INTEGER)"),
                       (ARCHIVE, "CAST(hour(epoch_ms(_timestamp_ms)) AS INTEGER)")):  # fmt: skip
        files = [_literal(store.location(p.path)) for p in parts if p.tier == tier]
        if not files:
            continue
        drop = "date, hour" if tier == COLD else "date"
        selects.append(
            f"SELECT * EXCLUDE ({drop}), CAST(date AS DATE) AS date, {hour} AS hour "
            f"FROM read_parquet([{', '.join(files)}], hive_partitioning = true, "
            "union_by_name = true)"
        )
    return " UNION ALL BY NAME ".join(selects) if selects else None


def connect(store: Store, views: bool = True, locked: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that reads ``store``: a view per topic, locked to reading."""
    connection = duckdb.connect(config={"threads": 2})
    local = store.fs.type_name == "local"
    if not local:
        connection.register_filesystem(_fsspec_of(store))
    for topic in topics(store) if views else ():
        sql = view_sql(store, store.readable(topic))
        if sql is not None:
            name = topic.replace("-", "_")  # a view name needs no quoting in a query
            connection.execute(f"CREATE VIEW {_quote(name)} AS {sql}")
    if not locked:
        return connection
    if local:
        connection.execute(f"SET allowed_directories = [{_literal(store.root)}]")
        connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def _fsspec_of(store: Store) -> Any:
    """The fsspec filesystem DuckDB reads a non-local store through."""
    if isinstance(store.fs, PyFileSystem):
        return store.fs.handler.fs  # opened through fsspec already
    from fsspec.implementations.arrow import ArrowFSWrapper

    scheme = store.url.partition("://")[0]

    class _Wrapper(ArrowFSWrapper):  # DuckDB routes a path to the filesystem of its scheme
        protocol = scheme

    return _Wrapper(store.fs)


def run(store: Store, sql: str) -> pa.Table:
    """The answer of one read-only statement over the tiers; BadInput for anything else."""
    try:
        for topic in topics(store):  # the readable set reads the archive parts' metadata
            check_parts(store, store.parts(tier=ARCHIVE, topic=topic))
        connection = connect(store)
    except duckdb.Error as exc:  # a part DuckDB cannot read (its message names the file)
        raise BadInput(str(exc)) from None
    try:
        statements = connection.extract_statements(sql)
        if len(statements) != 1:
            raise BadInput(f"one statement at a time, got {len(statements)}")
        if statements[0].type not in ALLOWED:
            raise BadInput(
                f"only SELECT (or EXPLAIN) reads the tiers; got {statements[0].type.name}"
            )
        return connection.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise BadInput(str(exc)) from None
    finally:
        connection.close()


def render(table: pa.Table, form: str) -> str:
    """``table`` as an aligned text table, CSV or JSON lines."""
    rows = table.to_pylist()
    names = table.column_names
    if form == "json":
        return "".join(json.dumps(r, default=str, sort_keys=False) + "\n" for r in rows)
    if form == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([[_cell(r[n]) for n in names] for r in rows])
        return out.getvalue()
    cells = [[_cell(r[n]) for n in names] for r in rows]
    widths = [max([len(n), *(len(c[i]) for c in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines) + f"\n({len(rows)} row{'s' if len(rows) != 1 else ''})\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)
