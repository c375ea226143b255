"""The mapping file: which column (or constant) fills which field of the target event.

.. code-block:: yaml

    format: csv                       # optional: else the file's suffix says
    csv: {delimiter: ";", encoding: latin-1}
    fields:
      event_id: request_id            # a column name ...
      event_time_ms: {column: ts, time: iso}      # iso | epoch_s | epoch_ms | auto
      model: {const: fraud}           # ... or a constant
      version: {column: model_version, default: "1"}
      latency_ms: latency
      features.amount: amount         # num_features (a number) ...
      features.channel: {column: channel, type: string}   # ... or cat_features
      segments.country: country
      llm.tokens_in: prompt_tokens

Everything is checked when the file is loaded, against the newest schema of the target
(PredictionEvent, FeedbackEvent, TelemetryEvent): an unknown field, a constant or default of
the wrong type, a required field left unmapped → ``ConfigFileError`` ``mapping.yaml:line:
reason``. Without ``event_id`` a row's id is ``uuid5(file sha256, row number)``: the same
row of the same file always gets the same id (feedback must map it: it names a prediction).

>>> from watchkeeper.yamlconf import load_text
>>> m = parse(load_text('''
... fields:
...   event_time_ms: {column: ts, time: epoch_s}
...   model: {const: fraud}
...   version: {const: "3"}
...   latency_ms: lat
...   features.amount: amount
...   segments.country: {column: country, default: unknown}
... ''', "m.yaml"), "predictions")
>>> sorted(m.columns())
['amount', 'country', 'lat', 'ts']
>>> event = m.event({"ts": "1764583200", "lat": "12", "amount": "9.5", "country": None},
...                 digest="sha256:00", row_number=7)
>>> event["event_id"], event["num_features"], event["segments"], event["latency_ms"]
('b1275995-4ed5-5e7b-8048-ae274fc1f3fd', {'amount': 9.5}, {'country': 'unknown'}, 12.0)
>>> m.event({"ts": "x", "lat": "1", "amount": "1", "country": "de"}, "sha256:00", 8)
Traceback (most recent call last):
...
watchkeeper.ingest.errors.RowError: event_time_ms: cannot read 'x' as a number
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..codec import SchemaRegistry
from ..yamlconf import ConfigFileError
from ..yamlconf import Mapping as Doc
from . import casts
from .errors import RowError
from .readers import CsvOptions

TARGETS = {
    "predictions": "PredictionEvent",
    "feedback": "FeedbackEvent",
    "telemetry": "TelemetryEvent",
}
# The ids ingest derives are UUIDv5 in this namespace (uuid5(NAMESPACE_URL, this URN)).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:watchkeeper:ingest")
MAP_FIELDS = {"num_features": "double", "cat_features": "string", "segments": "string"}
_SPEC_KEYS = {"column", "const", "default", "type", "time"}


def row_id(digest: str, row: int) -> str:
    """The event id of row ``row`` of the file with content hash ``digest``.

    >>> row_id("sha256:00", 7)
    'b1275995-4ed5-5e7b-8048-ae274fc1f3fd'
    """
    return str(uuid.uuid5(ID_NAMESPACE, f"{digest}:{row}"))


@dataclass(frozen=True)
class FieldMap:
    """One target field: where its value comes from and how it is cast."""

    target: str  # "latency_ms", "num_features.amount", "llm.tokens_in"
    column: str | None
    const: Any
    default: Any
    cast: Callable[[Any], Any]
    required: bool
    finite: bool  # a top-level number must be finite; a feature may be NaN (no value)
    line: int

    def value(self, row: dict[str, Any]) -> Any:
        raw = self.const if self.column is None else row.get(self.column)
        if raw is None or (isinstance(raw, str) and raw == ""):
            if self.default is None:
                if self.required:
                    raise RowError(
                        "missing", f"{self.target}: required, but {self._from()} is empty"
                    )
                return None
            return self.default
        try:
            value = self.cast(raw)
        except ValueError as exc:
            raise RowError("cast", f"{self.target}: {exc}") from None
        if self.finite and isinstance(value, float) and not math.isfinite(value):
            raise RowError("cast", f"{self.target}: {value} is not a finite number")
        return value

    def _from(self) -> str:
        return f"column {self.column!r}" if self.column else "the constant"


@dataclass(frozen=True)
class EventMapping:
    target: str  # the topic: predictions, feedback, telemetry
    schema: str  # its record type
    fields: tuple[FieldMap, ...]
    maps_event_id: bool
    format: str | None
    csv: CsvOptions
    source: str
    lines: dict[str, int]

    def columns(self) -> dict[str, tuple[str, int]]:
        """Column -> (mapping file, line naming it)."""
        return {f.column: (self.source, f.line) for f in self.fields if f.column is not None}

    def event(self, row: dict[str, Any], digest: str, row_number: int) -> dict[str, Any]:
        """The event record of ``row``; ``RowError`` when a value is missing or does not cast."""
        record: dict[str, Any] = {}
        for f in self.fields:
            value = f.value(row)
            if value is None:
                continue
            head, _, sub = f.target.partition(".")
            if sub:
                record.setdefault(head, {})[sub] = value
            else:
                record[f.target] = value
        if not self.maps_event_id:
            record["event_id"] = row_id(digest, row_number)
        llm = record.get("llm")
        if llm is not None:
            llm.setdefault("tokens_cached", 0)
        return record


def _schema_fields(schema: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in SchemaRegistry().latest(schema).raw["fields"]}


def _base_type(avro: Any) -> tuple[Any, bool]:
    """(the non-null type, whether null is allowed)."""
    if isinstance(avro, list):
        rest = [t for t in avro if t != "null"]
        return (rest[0] if len(rest) == 1 else rest), "null" in avro
    return avro, False


def _cast_for(avro: Any, field: str, doc: Doc) -> Callable[[Any], Any]:
    if isinstance(avro, dict) and avro.get("type") == "enum":
        symbols = avro["symbols"]

        def enum(value: Any) -> str:
            text = casts.to_str(value).strip().upper()
            if text not in symbols:
                raise ValueError(f"{value!r} is not one of {', '.join(symbols)}")
            return text

        return enum
    simple = {
        "string": casts.to_str,
        "double": casts.to_float,
        "float": casts.to_float,
        "long": casts.to_int,
        "int": casts.to_int,
        "boolean": casts.to_bool,
    }
    if isinstance(avro, str) and avro in simple:
        return simple[avro]
    raise doc.error(field, f"{field} cannot be filled from a column (its type is {avro!r})")


def _spec(doc: Doc, key: str) -> dict[str, Any]:
    spec = doc[key]
    if isinstance(spec, str):
        return {"column": spec}
    if not isinstance(spec, dict):
        raise doc.error(key, f"{key}: give a column name or {{column: ..}} / {{const: ..}}")
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise doc.error(
            key, f"{key}: unknown key {sorted(unknown)[0]!r} (use {', '.join(sorted(_SPEC_KEYS))})"
        )
    if ("column" in spec) == ("const" in spec):
        raise doc.error(key, f"{key}: say either column or const")
    if "column" in spec and (not isinstance(spec["column"], str) or not spec["column"]):
        raise doc.error(key, f"{key}: column must be a column name")
    return dict(spec)


def _field(doc: Doc, key: str, schema_fields: dict[str, dict[str, Any]], schema: str) -> FieldMap:
    spec = _spec(doc, key)
    line = doc.line_of(key)
    head, _, sub = key.partition(".")
    finite = True
    if head == "features" and sub:
        kind = spec.pop("type", "number")
        if kind not in ("number", "string"):
            raise doc.error(key, f"{key}: type must be number or string, not {kind!r}")
        head = "num_features" if kind == "number" else "cat_features"
        finite = False
    elif "type" in spec:
        raise doc.error(key, f"{key}: type applies to features.<name> only")
    if head not in schema_fields:
        raise doc.error(key, f"{schema} has no field {head!r}")
    avro, nullable = _base_type(schema_fields[head]["type"])
    required = not nullable and "default" not in schema_fields[head]
    if head in MAP_FIELDS and isinstance(avro, dict) and avro.get("type") == "map":
        if not sub:
            raise doc.error(key, f"{key}: name the entry, e.g. {head}.<name>")
        cast = _cast_for(avro["values"], key, doc)
        finite, required = head != "num_features", False
    elif isinstance(avro, dict) and avro.get("type") == "record":
        inner = {f["name"]: f for f in avro["fields"]}
        if sub not in inner:
            raise doc.error(key, f"{key}: {head} has the fields {', '.join(inner)}")
        sub_type, _ = _base_type(inner[sub]["type"])
        cast = _cast_for(sub_type, key, doc)
        required = False  # the record as a whole is optional; the codec checks its parts
    elif sub:
        raise doc.error(key, f"{head} has no parts ({key!r})")
    else:
        cast = _cast_for(avro, key, doc)
    target = f"{head}.{sub}" if sub else head
    if "time" in spec:
        how = spec.pop("time")
        if avro != "long":
            raise doc.error(key, f"{key}: time applies to a long field such as event_time_ms")
        if how not in casts.TIME_FORMATS:
            raise doc.error(key, f"{key}: time must be one of {', '.join(casts.TIME_FORMATS)}")
        cast = lambda v, how=how: casts.to_time_ms(v, how)  # noqa: E731
    elif target == "event_time_ms":
        cast = casts.to_time_ms
    const, default = spec.get("const"), spec.get("default")
    for what, value in (("const", const), ("default", default)):
        if value is not None:
            try:
                cast(value)
            except ValueError as exc:
                raise doc.error(key, f"{key}: {what} {exc}") from None
    return FieldMap(
        target=target,
        column=spec.get("column"),
        const=cast(const) if const is not None else None,
        default=cast(default) if default is not None else None,
        cast=cast,
        required=required,
        finite=finite,
        line=line,
    )


def parse(doc: Any, target: str) -> EventMapping:
    if target not in TARGETS:
        raise ValueError(f"--into must be one of {', '.join(TARGETS)}, not {target!r}")
    schema = TARGETS[target]
    if not isinstance(doc, Doc):
        raise ConfigFileError(
            getattr(doc, "source", "mapping"),
            getattr(doc, "line", None),
            "the mapping file must be a mapping with fields:",
        )
    unknown = set(doc) - {"format", "csv", "fields"}
    if unknown:
        key = sorted(unknown)[0]
        raise doc.error(key, f"unknown key {key!r} (use format, csv, fields)")
    fmt = doc.get("format")
    if fmt is not None and fmt not in ("csv", "jsonl", "parquet"):
        raise doc.error("format", f"format must be csv, jsonl or parquet, not {fmt!r}")
    csv_options = _csv(doc)
    fields_doc = doc.get("fields")
    if not isinstance(fields_doc, Doc) or not fields_doc:
        raise doc.error(
            "fields" if "fields" in doc else None, "fields: map event fields to columns"
        )
    schema_fields = _schema_fields(schema)
    fields = tuple(_field(fields_doc, key, schema_fields, schema) for key in fields_doc)
    mapped = {f.target for f in fields}
    for name, spec in schema_fields.items():
        _, nullable = _base_type(spec["type"])
        if nullable or "default" in spec or name in mapped:
            continue
        if name == "event_id" and target != "feedback":
            continue
        why = " (feedback names the prediction it labels)" if name == "event_id" else ""
        raise fields_doc.error(None, f"{schema}.{name} is required: map a column or a const{why}")
    return EventMapping(
        target,
        schema,
        fields,
        "event_id" in mapped,
        fmt,
        csv_options,
        doc.source,
        dict(fields_doc.lines),
    )


def _csv(doc: Doc) -> CsvOptions:
    options = doc.get("csv")
    if options is None:
        return CsvOptions()
    if not isinstance(options, Doc):
        raise doc.error("csv", "csv: give {delimiter: .., encoding: .., quotechar: ..}")
    unknown = set(options) - {"delimiter", "encoding", "quotechar"}
    if unknown:
        raise options.error(sorted(unknown)[0], "csv: use delimiter, encoding, quotechar")
    for key in ("delimiter", "quotechar"):
        if key in options and (not isinstance(options[key], str) or len(options[key]) != 1):
            raise options.error(key, f"csv.{key} must be one character")
    encoding = options.get("encoding", CsvOptions.encoding)
    import codecs

    try:
        codecs.lookup(str(encoding))
    except LookupError:
        raise options.error("encoding", f"unknown encoding {encoding!r}") from None
    return CsvOptions(
        delimiter=options.get("delimiter", ","),
        quotechar=options.get("quotechar", '"'),
        encoding=str(encoding),
    )


def load(path: str, target: str) -> EventMapping:
    from ..yamlconf import load_file

    return parse(load_file(path), target)
