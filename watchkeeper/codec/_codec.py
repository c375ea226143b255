"""Avro single-object encoding: ``C3 01`` + 8-byte CRC-64-AVRO fingerprint + Avro body.

Any consumer, in any language, can tell from the first ten bytes which schema wrote a
message; ours dispatches on them and resolves old versions into the newest one.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from fastavro import schemaless_reader, schemaless_writer

from ._fastcheck import compile_fast_constraints, compile_fast_type_check
from ._fastread import Unsupported, compile_reader
from ._registry import SchemaRegistry, SchemaVersion
from ._validate import compile_constraints, compile_type_check
from .errors import EventError

MAGIC = b"\xc3\x01"
HEADER_SIZE = 10


class Decoded(NamedTuple):
    schema: str
    version: int
    record: dict[str, Any]


class _Reader(NamedTuple):
    writer: SchemaVersion
    reader: SchemaVersion
    reader_parsed: dict[str, Any] | None  # None when writer == reader: no resolution needed
    rules_ok: Callable[[Mapping[str, Any]], bool]
    constraints: Callable[[Mapping[str, Any]], None]
    # A generated reader for the newest version's own bytes (see _fastread); None where
    # fastavro reads alone (older writers, whose records need resolving).
    fast: Callable[[bytes, int], tuple[dict[str, Any], int]] | None


class _Writer(NamedTuple):
    version: SchemaVersion
    header: bytes
    types_ok: Callable[[Mapping[str, Any]], bool]
    rules_ok: Callable[[Mapping[str, Any]], bool]
    type_check: Callable[[Mapping[str, Any]], None]
    constraints: Callable[[Mapping[str, Any]], None]


class Codec:
    """Encodes and decodes every registered event type.

    >>> codec = Codec()
    >>> event = {"event_id": "e1", "event_time_ms": 1767225600000, "model": "fraud",
    ...          "version": "3", "latency_ms": 12.5}
    >>> data = codec.encode("PredictionEvent", event)
    >>> data[:2].hex(), len(data)
    ('c301', 60)
    >>> decoded = codec.decode(data)
    >>> decoded.schema, decoded.version, decoded.record["latency_ms"], decoded.record["status"]
    ('PredictionEvent', 1, 12.5, 'OK')
    >>> codec.decode(b"not avro at all")
    Traceback (most recent call last):
    ...
    watchkeeper.codec.errors.EventError: not_single_object: message does not start with C3 01
    """

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self.registry = registry if registry is not None else SchemaRegistry()
        self._readers: dict[bytes, _Reader] = {}
        self._writers: dict[str, _Writer] = {}
        for name in self.registry.names():
            latest = self.registry.latest(name)
            rules_ok = compile_fast_constraints(latest.raw)
            constraints = compile_constraints(latest.raw)
            self._writers[name] = _Writer(
                latest,
                MAGIC + latest.fingerprint,
                compile_fast_type_check(latest.raw),
                rules_ok,
                compile_type_check(latest.raw),
                constraints,
            )
            try:
                fast = compile_reader(latest.raw)
            except Unsupported:
                fast = None
            for version in self.registry.versions(name):
                same = version.fingerprint == latest.fingerprint
                self._readers[version.fingerprint] = _Reader(
                    version,
                    latest,
                    None if same else latest.parsed,
                    rules_ok,
                    constraints,
                    fast if same else None,
                )

    # -- encoding ---------------------------------------------------------------------

    def encode(self, schema: str, record: Mapping[str, Any], *, validate: bool = True) -> bytes:
        """Encode with the newest version of ``schema``.

        With ``validate`` (the default) a wrong type, a missing required field, an unknown
        field or a broken constraint raises ``ValueError`` naming the field.
        """
        writer = self._writer(schema)
        if validate and not (writer.types_ok(record) and writer.rules_ok(record)):
            # The generated predicates only say no; these say which field and why.
            writer.type_check(record)
            writer.constraints(record)
            raise ValueError(f"{writer.version.label}: record does not fit the schema")
        buffer = io.BytesIO()
        buffer.write(writer.header)
        try:
            schemaless_writer(buffer, writer.version.parsed, record)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{writer.version.label}: cannot encode: {exc}") from None
        return buffer.getvalue()

    def header(self, schema: str) -> bytes:
        """The 10 bytes every message of ``schema`` (newest version) starts with."""
        return self._writer(schema).header

    def _writer(self, schema: str) -> _Writer:
        try:
            return self._writers[schema]
        except KeyError:
            known = ", ".join(sorted(self._writers))
            raise EventError(
                "unknown_schema", f"no schema named {schema!r}; known: {known}"
            ) from None

    # -- decoding ---------------------------------------------------------------------

    def decode(self, data: bytes) -> Decoded:
        """Decode any registered event; raise :class:`EventError` naming the problem."""
        reader = self._reader_for(data)
        return Decoded(reader.reader.name, reader.writer.version, self._body(reader, data))

    def decode_as(self, schema: str, data: bytes) -> dict[str, Any]:
        """Decode an event that must be of type ``schema`` (a topic's contract)."""
        reader = self._reader_for(data)
        if reader.reader.name != schema:
            raise EventError(
                "unexpected_type", f"expected {schema}, got a {reader.writer.label} event"
            )
        return self._body(reader, data)

    def _reader_for(self, data: bytes) -> _Reader:
        if data is None or len(data) < HEADER_SIZE or data[:2] != MAGIC:
            if data is not None and data[:2] == MAGIC:
                raise EventError(
                    "not_single_object", f"{len(data)} bytes, shorter than the 10-byte header"
                )
            raise EventError("not_single_object", "message does not start with C3 01")
        fingerprint = bytes(data[2:HEADER_SIZE])
        reader = self._readers.get(fingerprint)
        if reader is None:
            raise EventError(
                "unknown_fingerprint",
                f"fingerprint {fingerprint.hex()} matches no schema this installation knows",
            )
        return reader

    def _body(self, reader: _Reader, data: bytes) -> dict[str, Any]:
        record = None
        if reader.fast is not None:
            try:
                record, end = reader.fast(data, HEADER_SIZE)
            except Exception:  # the fast path gives up: fastavro decides, and names the error
                record = None
            else:
                if end != len(data):
                    record = None
        if record is None:
            record = self._read(reader, data)
        if not reader.rules_ok(record):
            try:
                reader.constraints(record)
            except ValueError as exc:
                raise EventError("invalid", str(exc)) from None
        return record

    def _read(self, reader: _Reader, data: bytes) -> dict[str, Any]:
        buffer = io.BytesIO(data)
        buffer.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(buffer, reader.writer.parsed, reader.reader_parsed)
        except EOFError:
            raise EventError("truncated", f"{reader.writer.label}: body ends early") from None
        except (UnicodeDecodeError, ValueError, IndexError, KeyError, TypeError) as exc:
            # fastavro reports impossible varints, enum indexes or union branches this way.
            raise EventError(
                "corrupt", f"{reader.writer.label}: {type(exc).__name__}: {exc}"
            ) from None
        except Exception as exc:
            raise EventError(
                "corrupt", f"{reader.writer.label}: {type(exc).__name__}: {exc}"
            ) from None
        left = len(data) - buffer.tell()
        if left:
            raise EventError(
                "corrupt", f"{reader.writer.label}: {left} bytes left after the record"
            )
        return record
