"""Readers generated from our own schemas: a fast path in front of fastavro.

fastavro reads through a file object, three ``read()`` calls for every map entry; on a
PredictionEvent with 20 numeric features that map is two thirds of the decoding time.
A generated reader works on the bytes themselves, and reads a map of doubles whose keys
repeat (one model sends the same features in the same order, event after event) with one
``struct.unpack_from`` after checking that the key bytes are the ones it expects.

It is a fast path, not a second decoder. Whatever it does not expect (a varint longer
than it reads inline, a negative block count, a short buffer, bad UTF-8, an index out of
range) makes it raise, and the codec reads the same bytes again with fastavro, which
gives the verdict and the error. ``tests/test_codec_fastread.py`` holds the two to the
same answers on every schema, on random records and on corrupted bytes.

>>> from fastavro import parse_schema, schemaless_writer
>>> import io
>>> schema = {"type": "record", "name": "E", "fields": [
...     {"name": "id", "type": "string"},
...     {"name": "x", "type": {"type": "map", "values": "double"}}]}
>>> read = compile_reader(schema)
>>> out = io.BytesIO()
>>> schemaless_writer(out, parse_schema(schema), {"id": "e1", "x": {"a": 1.5, "b": -2.0}})
>>> data = out.getvalue()
>>> read(data, 0)
({'id': 'e1', 'x': {'a': 1.5, 'b': -2.0}}, 25)
>>> read(data, 0)[0] == read(data, 0)[0]   # the second time the map comes from its layout
True
>>> try:
...     read(data[:-3], 0)
... except Exception as exc:  # the codec then asks fastavro
...     print("fastavro's turn:", type(exc).__name__)
fastavro's turn: error
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

_DOUBLE = struct.Struct("<d").unpack_from
_FLOAT = struct.Struct("<f").unpack_from
MAX_SHAPES = 64  # per map field: more key layouts than this and the cache starts over


class Unexpected(Exception):
    """The fast path met something it leaves to fastavro."""


class Unsupported(Exception):
    """The schema uses a type the generator does not handle: fastavro reads it alone."""


def _long(data: bytes, pos: int) -> tuple[int, int]:
    """A zig-zag varint of any length (the generated code inlines the one-byte case)."""
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            result &= 0xFFFF_FFFF_FFFF_FFFF  # as fastavro: bits past 64 fall away
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise Unexpected("varint longer than 10 bytes")


class _Shape:
    """One key layout of a map of doubles: the raw key bytes it must find, and a struct
    that reads the whole map in one call."""

    __slots__ = ("expected", "names", "size", "unpack")

    def __init__(self, count: bytes, raws: list[bytes], names: list[str]) -> None:
        layout = "".join(f"{len(raw)}sd" for raw in raws)
        reader = struct.Struct(f"<{len(count)}s{layout}1s")
        self.unpack, self.size = reader.unpack_from, reader.size
        self.expected = (*raws, b"\x00")  # every key with its length, then the end marker
        self.names = tuple(names)


class DoubleMaps:
    """The key layouts seen so far for one map-of-doubles field."""

    def __init__(self) -> None:
        self.shapes: dict[bytes, list[_Shape]] = {}  # by the bytes up to the first value
        self.hits = 0

    def read(self, data: bytes, pos: int) -> tuple[dict[str, float], int]:
        count = data[pos]
        if count == 0:
            return {}, pos + 1
        if count < 0x80 and not count & 1:
            first = data[pos + 1]
            if first < 0x80:
                head = data[pos : pos + 2 + (first >> 1)]
                for shape in self.shapes.get(head, ()):
                    try:
                        t = shape.unpack(data, pos)
                    except struct.error:
                        continue
                    if t[1::2] == shape.expected:  # the count byte is in the head
                        self.hits += 1
                        return dict(zip(shape.names, t[2::2], strict=True)), pos + shape.size
        return self._learn(data, pos)

    def _learn(self, data: bytes, pos: int) -> tuple[dict[str, float], int]:
        start = pos
        size = len(data)
        count, pos = _long(data, pos)
        if count == 0:
            return {}, pos  # an empty map written with a longer varint than needed
        if count < 0:
            raise Unexpected("block with a byte count")
        after_count = pos
        out: dict[str, float] = {}
        raws: list[bytes] = []
        names: list[str] = []
        for _ in range(count):
            entry = pos
            n, pos = _long(data, pos)
            end = pos + n
            if n < 0 or end > size:
                raise Unexpected("short buffer")
            key = data[pos:end].decode()
            raws.append(data[entry:end])
            names.append(key)
            out[key] = _DOUBLE(data, end)[0]
            pos = end + 8
        if data[pos] != 0:
            raise Unexpected("more than one block")  # valid Avro, and rare: fastavro reads it
        pos += 1
        if after_count - start == 1 and len(raws[0]) - len(names[0].encode()) == 1:
            # Only layouts that the one-byte lookup in ``read`` can find again.
            head = data[start : after_count + len(raws[0])]
            if len(self.shapes) >= MAX_SHAPES:
                self.shapes.clear()  # hostile or very varied keys: stay bounded
            shapes = self.shapes.setdefault(head, [])
            shapes.insert(0, _Shape(data[start:after_count], raws, names))
            del shapes[4:]
        return out, pos


class _Gen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {
            "_long": _long,
            "_DOUBLE": _DOUBLE,
            "_FLOAT": _FLOAT,
            "Unexpected": Unexpected,
        }
        self.counter = 0
        self.named: dict[str, Any] = {}

    def var(self, prefix: str = "v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: Any, prefix: str = "K") -> str:
        name = self.var(f"_{prefix}")
        self.consts[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _name(schema: dict[str, Any], namespace: str | None) -> str:
    name = schema["name"]
    if "." in name or not (schema.get("namespace") or namespace):
        return name
    return f"{schema.get('namespace') or namespace}.{name}"


def _read_long(gen: _Gen, target: str, indent: int) -> None:
    gen.emit(indent, "b = data[pos]")
    gen.emit(indent, "if b < 128:")
    gen.emit(indent + 1, f"{target} = (b >> 1) ^ -(b & 1)")
    gen.emit(indent + 1, "pos += 1")
    gen.emit(indent, "else:")
    gen.emit(indent + 1, f"{target}, pos = _long(data, pos)")


def _read_bytes(gen: _Gen, target: str, indent: int, text: bool) -> None:
    n = gen.var("n")
    _read_long(gen, n, indent)
    gen.emit(indent, f"e = pos + {n}")
    gen.emit(indent, f"if {n} < 0 or e > size:")
    gen.emit(indent + 1, 'raise Unexpected("short buffer")')
    gen.emit(indent, f"{target} = data[pos:e]{'.decode()' if text else ''}")
    gen.emit(indent, "pos = e")


def _read(gen: _Gen, avro: Any, target: str, indent: int, namespace: str | None) -> None:
    """Emit statements that read one value of type ``avro`` into ``target``."""
    if isinstance(avro, list):
        _read_union(gen, avro, target, indent, namespace)
        return
    if isinstance(avro, str):
        kind = avro
        if kind in gen.named:
            avro = gen.named[kind]
            kind = avro["type"]
        elif namespace and f"{namespace}.{kind}" in gen.named:
            avro = gen.named[f"{namespace}.{kind}"]
            kind = avro["type"]
    else:
        if "logicalType" in avro:
            raise Unsupported(f"logical type {avro['logicalType']}")
        kind = avro["type"]
        if kind in ("record", "enum", "fixed"):
            full = _name(avro, namespace)
            gen.named[full] = avro
            gen.named.setdefault(avro["name"], avro)
            namespace = full.rpartition(".")[0] or namespace
    if kind == "null":
        gen.emit(indent, f"{target} = None")
    elif kind == "boolean":
        gen.emit(indent, "b = data[pos]")
        gen.emit(indent, "pos += 1")
        gen.emit(indent, "if b > 1:")
        gen.emit(indent + 1, 'raise Unexpected("boolean byte")')
        gen.emit(indent, f"{target} = b == 1")
    elif kind in ("int", "long"):
        _read_long(gen, target, indent)
    elif kind == "double":
        gen.emit(indent, f"{target} = _DOUBLE(data, pos)[0]")
        gen.emit(indent, "pos += 8")
    elif kind == "float":
        gen.emit(indent, f"{target} = _FLOAT(data, pos)[0]")
        gen.emit(indent, "pos += 4")
    elif kind == "string":
        _read_bytes(gen, target, indent, text=True)
    elif kind == "bytes":
        _read_bytes(gen, target, indent, text=False)
    elif kind == "fixed":
        gen.emit(indent, f"e = pos + {int(avro['size'])}")
        gen.emit(indent, "if e > size:")
        gen.emit(indent + 1, 'raise Unexpected("short buffer")')
        gen.emit(indent, f"{target} = data[pos:e]")
        gen.emit(indent, "pos = e")
    elif kind == "enum":
        symbols = gen.const(tuple(avro["symbols"]), "S")
        i = gen.var("i")
        _read_long(gen, i, indent)
        gen.emit(indent, f"if not 0 <= {i} < {len(avro['symbols'])}:")
        gen.emit(indent + 1, 'raise Unexpected("enum index")')
        gen.emit(indent, f"{target} = {symbols}[{i}]")
    elif kind == "record":
        _read_record(gen, avro, target, indent, namespace)
    elif kind == "map":
        if avro["values"] == "double":
            maps = gen.const(DoubleMaps(), "M")
            gen.emit(indent, f"{target}, pos = {maps}.read(data, pos)")
            return
        _read_blocks(gen, avro["values"], target, indent, namespace, keyed=True)
    elif kind == "array":
        _read_blocks(gen, avro["items"], target, indent, namespace, keyed=False)
    else:
        raise Unsupported(f"type {kind!r}")


def _read_union(gen: _Gen, branches: list[Any], target: str, indent: int, ns: str | None) -> None:
    if len(branches) > 60:
        raise Unsupported("union with more than 60 branches")
    gen.emit(indent, "b = data[pos]")
    gen.emit(indent, "pos += 1")
    for index, branch in enumerate(branches):
        gen.emit(indent, f"{'if' if index == 0 else 'elif'} b == {2 * index}:")
        _read(gen, branch, target, indent + 1, ns)
    gen.emit(indent, "else:")
    gen.emit(indent + 1, 'raise Unexpected("union index")')


def _read_blocks(
    gen: _Gen, item: Any, target: str, indent: int, ns: str | None, *, keyed: bool
) -> None:
    count, key, value = gen.var("c"), gen.var("k"), gen.var("x")
    gen.emit(indent, f"{target} = {{}}" if keyed else f"{target} = []")
    gen.emit(indent, "while True:")
    _read_long(gen, count, indent + 1)
    gen.emit(indent + 1, f"if {count} == 0:")
    gen.emit(indent + 2, "break")
    gen.emit(indent + 1, f"if {count} < 0:")
    gen.emit(indent + 2, 'raise Unexpected("block with a byte count")')
    # Every item but a null takes a byte: a hostile count cannot keep the loop spinning.
    gen.emit(indent + 1, f"if {count} > size - pos:")
    gen.emit(indent + 2, 'raise Unexpected("more items than bytes")')
    gen.emit(indent + 1, f"for _ in range({count}):")
    if keyed:
        _read_bytes(gen, key, indent + 2, text=True)
    _read(gen, item, value, indent + 2, ns)
    gen.emit(indent + 2, f"{target}[{key}] = {value}" if keyed else f"{target}.append({value})")


def _read_record(
    gen: _Gen, schema: dict[str, Any], target: str, indent: int, ns: str | None
) -> None:
    names = []
    for field in schema["fields"]:
        value = gen.var("f")
        _read(gen, field["type"], value, indent, ns)
        names.append(f"{field['name']!r}: {value}")
    gen.emit(indent, f"{target} = {{{', '.join(names)}}}")


def compile_reader(schema: dict[str, Any]) -> Callable[[bytes, int], tuple[dict[str, Any], int]]:
    """``read(data, pos) -> (record, end)`` for a record schema; raises :class:`Unsupported`
    for a schema it cannot generate, :class:`Unexpected` (or an ``IndexError``,
    ``struct.error``, ``UnicodeDecodeError``) on bytes it leaves to fastavro."""
    gen = _Gen()
    gen.emit(0, "def read(data, pos):")
    gen.emit(1, "size = len(data)")
    try:
        _read(gen, schema, "record", 1, None)
    except RecursionError:
        raise Unsupported("recursive type") from None
    gen.emit(1, "return record, pos")
    namespace: dict[str, Any] = dict(gen.consts)
    exec(compile("\n".join(gen.lines), f"<wk-fastread {schema.get('name')}>", "exec"), namespace)
    return namespace["read"]  # type: ignore[no-any-return]
