"""The events as Arrow columns: one column per field of the event's Avro record, beside the
Kafka coordinates of each record, so that a query reads ``num_features['amount']`` or
``latency_ms`` without decoding Avro, and a replay gets the event back field for field.

====================== ==========================================================
Avro                   Arrow (Parquet)
====================== ==========================================================
string, enum           string (Parquet dictionary-encodes repeated values)
long / int             int64 / int32
double / float         float64 / float32
boolean, bytes         bool, binary
["null", T]            T, nullable
map of T               map<string, T>
array of T             list<T>
record                 struct
====================== ==========================================================

Coordinates: ``_topic`` (the full topic name), ``_partition``, ``_offset``,
``_timestamp_ms`` (the record's Kafka timestamp), ``_key`` (its key bytes). A file's Parquet
metadata names the record type and its version (``wk.schema``, ``wk.schema_version``).

>>> from watchkeeper.codec import Codec
>>> codec = Codec()
>>> event = {"event_id": "e1", "event_time_ms": 1767225600000, "model": "fraud",
...          "version": "3", "latency_ms": 12.5, "num_features": {"amount": 42.0}}
>>> record = codec.decode(codec.encode("PredictionEvent", event)).record
>>> columns = Columns.of(codec, "PredictionEvent")
>>> table = columns.table([Coordinates("wk.predictions", 0, 7, 1767225600000, b"fraud")],
...                       [record])
>>> table.num_rows, table.schema.field("num_features").type
(1, MapType(map<string, double>))
>>> coords, back = next(columns.rows(table))
>>> coords.offset, back == record, codec.encode("PredictionEvent", back) == codec.encode(
...     "PredictionEvent", record)
(7, True, True)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyarrow as pa

SCHEMA_KEY = b"wk.schema"
VERSION_KEY = b"wk.schema_version"

_PRIMITIVE = {
    "string": pa.string(),
    "long": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "bytes": pa.binary(),
}

COORDINATES = (
    pa.field("_topic", pa.string(), nullable=False),
    pa.field("_partition", pa.int32(), nullable=False),
    pa.field("_offset", pa.int64(), nullable=False),
    pa.field("_timestamp_ms", pa.int64(), nullable=False),
    pa.field("_key", pa.binary()),
)


class Coordinates(NamedTuple):
    """Where a record was in Kafka."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None


def arrow_type(avro: Any, named: dict[str, pa.DataType]) -> tuple[pa.DataType, bool]:
    """The Arrow type of an Avro type, and whether it is nullable. ``named`` collects the
    record and enum types met so far (Avro lets a later field name an earlier type)."""
    if isinstance(avro, list):
        others = [t for t in avro if t != "null"]
        if len(others) != 1:
            raise ValueError(f"only unions of null and one type map to a column: {avro}")
        return arrow_type(others[0], named)[0], "null" in avro
    if isinstance(avro, str):
        if avro in _PRIMITIVE:
            return _PRIMITIVE[avro], False
        if avro in named:
            return named[avro], False
        raise ValueError(f"unknown Avro type {avro!r}")
    kind = avro["type"]
    if kind == "record":
        fields = [_field(f, named) for f in avro["fields"]]
        named[avro["name"]] = struct = pa.struct(fields)
        return struct, False
    if kind == "enum":
        named[avro["name"]] = pa.string()
        return pa.string(), False
    if kind == "map":
        return pa.map_(pa.string(), arrow_type(avro["values"], named)[0]), False
    if kind == "array":
        return pa.list_(arrow_type(avro["items"], named)[0]), False
    return arrow_type(kind, named)


def _field(avro_field: Mapping[str, Any], named: dict[str, pa.DataType]) -> pa.Field:
    kind, nullable = arrow_type(avro_field["type"], named)
    return pa.field(avro_field["name"], kind, nullable=nullable)


@dataclass(frozen=True)
class Columns:
    """The Arrow schema of one event type's files, and the conversions both ways."""

    schema: pa.Schema
    record_type: str
    version: int
    defaults: Mapping[str, Any]  # fields an older file may lack, with their Avro defaults

    @classmethod
    def of(cls, codec: Any, record_type: str) -> Columns:
        latest = codec.registry.latest(record_type)
        named: dict[str, pa.DataType] = {}
        fields = [_field(f, named) for f in latest.raw["fields"]]
        metadata = {SCHEMA_KEY: record_type.encode(), VERSION_KEY: str(latest.version).encode()}
        defaults = {f["name"]: f["default"] for f in latest.raw["fields"] if "default" in f}
        return cls(pa.schema([*COORDINATES, *fields], metadata=metadata), record_type,
                   latest.version, defaults)  # fmt: skip

    def table(self, coordinates: Sequence[Coordinates], records: Sequence[Mapping]) -> pa.Table:
        """The records (decoded events) with their coordinates, as one table."""
        columns: dict[str, list[Any]] = {
            "_topic": [c.topic for c in coordinates],
            "_partition": [c.partition for c in coordinates],
            "_offset": [c.offset for c in coordinates],
            "_timestamp_ms": [c.timestamp_ms for c in coordinates],
            "_key": [c.key for c in coordinates],
        }
        for field in self.schema:
            if not field.name.startswith("_"):
                columns[field.name] = [r.get(field.name) for r in records]
        return pa.Table.from_pydict(columns, schema=self.schema)

    @property
    def _fields(self) -> frozenset[str]:
        return frozenset(n for n in self.schema.names if not n.startswith("_"))

    def rows(self, table: pa.Table) -> Iterator[tuple[Coordinates, dict[str, Any]]]:
        """Each record of ``table`` back as (coordinates, event), in table order; fields
        the file lacks (written by an older version) get their defaults. Columns a reader
        added (Hive partitions and the like) are left out."""
        present = set(table.schema.names)
        missing = {k: v for k, v in self.defaults.items() if k not in present}
        names = [n for n in table.schema.names if n in self._fields]
        coordinates = [f.name for f in COORDINATES]
        for batch in table.to_batches():
            # Column by column: a few times faster than batch.to_pylist(maps_as_pydicts=...).
            values = [_python(batch.column(n)) for n in names]
            coords = [batch.column(n).to_pylist() for n in coordinates]
            for i, where in enumerate(zip(*coords, strict=True)):
                row = {n: column[i] for n, column in zip(names, values, strict=True)}
                row.update(missing)
                yield Coordinates(*where), row


def _python(column: pa.Array) -> list[Any]:
    """A column as Python values, maps as dicts."""
    kind = column.type
    if pa.types.is_map(kind) and not _holds_map(kind.item_type):
        return [None if v is None else dict(v) for v in column.to_pylist()]
    if _holds_map(column.type):
        return column.to_pylist(maps_as_pydicts="strict")
    return column.to_pylist()


def _holds_map(kind: pa.DataType) -> bool:
    if pa.types.is_map(kind):
        return True
    if pa.types.is_struct(kind):
        return any(_holds_map(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _holds_map(kind.value_type)
    return False
