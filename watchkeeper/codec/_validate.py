"""Checks compiled from a schema: Python types before encoding, constraints after decoding.

Avro guarantees types once bytes decode, but not meaning: an empty model name or a
negative latency decode fine. Constraints are written in the schemas as ``wk.*``
attributes (``wk.nonEmpty``, ``wk.min``, ``wk.max``), so every language reads them from
the same file; the canonical form (and so the fingerprint) ignores them.

>>> schema = {"type": "record", "name": "T", "fields": [
...     {"name": "model", "type": "string", "wk.nonEmpty": True},
...     {"name": "latency_ms", "type": "double", "wk.min": 0},
...     {"name": "tags", "type": {"type": "map", "values": "string"}, "default": {}}]}
>>> check = compile_type_check(schema)
>>> check({"model": "fraud", "latency_ms": 3})
>>> check({"model": "fraud", "latency_ms": "3"})
Traceback (most recent call last):
...
ValueError: T.latency_ms: expected double, got str '3'
>>> check({"latency_ms": 1.0})
Traceback (most recent call last):
...
ValueError: T.model: required field is missing
>>> compile_constraints(schema)({"model": "fraud", "latency_ms": -1.0, "tags": {}})
Traceback (most recent call last):
...
ValueError: T.latency_ms: must be >= 0, got -1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], None]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


class _Mismatch(Exception):
    """Raised inside the compiled checks; turned into a ValueError with the field path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _type_name(avro_type: Any) -> str:
    if isinstance(avro_type, str):
        return avro_type.rsplit(".", 1)[-1]
    if isinstance(avro_type, list):
        return " or ".join(_type_name(t) for t in avro_type)
    kind = avro_type["type"]
    if kind == "map":
        return f"map of {_type_name(avro_type['values'])}"
    if kind == "array":
        return f"array of {_type_name(avro_type['items'])}"
    if kind in ("record", "enum", "fixed"):
        return avro_type["name"]
    return _type_name(kind)


def _fail(expected: Any, value: Any) -> _Mismatch:
    return _Mismatch("", f"expected {_type_name(expected)}, got {_describe(value)}")


def _compile(avro_type: Any, named: dict[str, Any]) -> Check:
    """A function that raises _Mismatch when ``value`` cannot be written as ``avro_type``."""
    if isinstance(avro_type, str):
        if avro_type in named:
            return _compile(named[avro_type], named)
        return _primitive(avro_type)
    if isinstance(avro_type, list):
        return _union(avro_type, named)
    kind = avro_type["type"]
    if kind == "record":
        named[avro_type["name"]] = avro_type
        return _record(avro_type, named)
    if kind == "enum":
        named[avro_type["name"]] = avro_type
        symbols = frozenset(avro_type["symbols"])

        def check_enum(value: Any) -> None:
            if value not in symbols:
                raise _Mismatch("", f"expected one of {sorted(symbols)}, got {_describe(value)}")

        return check_enum
    if kind == "map":
        values = _compile(avro_type["values"], named)

        def check_map(value: Any) -> None:
            if not isinstance(value, Mapping):
                raise _fail(avro_type, value)
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _Mismatch("", f"map keys must be strings, got {_describe(key)}")
                try:
                    values(item)
                except _Mismatch as exc:
                    raise _Mismatch(f"[{key!r}]{exc.path}", exc.message) from None

        return check_map
    if kind == "array":
        items = _compile(avro_type["items"], named)

        def check_array(value: Any) -> None:
            if not isinstance(value, list | tuple):
                raise _fail(avro_type, value)
            for index, item in enumerate(value):
                try:
                    items(item)
                except _Mismatch as exc:
                    raise _Mismatch(f"[{index}]{exc.path}", exc.message) from None

        return check_array
    if kind == "fixed":
        size = avro_type["size"]

        def check_fixed(value: Any) -> None:
            if not isinstance(value, bytes) or len(value) != size:
                raise _Mismatch("", f"expected {size} bytes, got {_describe(value)}")

        return check_fixed
    return _primitive(kind)


def _primitive(name: str) -> Check:
    def check(value: Any) -> None:
        ok = _PRIMITIVES[name](value)
        if not ok:
            raise _fail(name, value)

    return check


def _is_int(value: Any, bounds: tuple[int, int]) -> bool:
    return type(value) is int and bounds[0] <= value <= bounds[1]


_PRIMITIVES: dict[str, Callable[[Any], bool]] = {
    "null": lambda v: v is None,
    "boolean": lambda v: type(v) is bool,
    "int": lambda v: _is_int(v, _INT32),
    "long": lambda v: _is_int(v, _INT64),
    "float": lambda v: type(v) is float or type(v) is int,
    "double": lambda v: type(v) is float or type(v) is int,
    "string": lambda v: type(v) is str,
    "bytes": lambda v: isinstance(v, bytes | bytearray),
}


def _union(branches: list[Any], named: dict[str, Any]) -> Check:
    checks = [_compile(b, named) for b in branches]
    if len(branches) == 2 and branches[0] == "null":
        inner = checks[1]

        def check_optional(value: Any) -> None:
            if value is not None:
                inner(value)

        return check_optional

    def check_union(value: Any) -> None:
        for check in checks:
            try:
                check(value)
                return
            except _Mismatch:
                continue
        raise _fail(branches, value)

    return check_union


def _record(schema: Mapping[str, Any], named: dict[str, Any]) -> Check:
    fields = [(f["name"], "default" not in f, _compile(f["type"], named)) for f in schema["fields"]]
    known = frozenset(name for name, _, _ in fields)

    def check_record(value: Any) -> None:
        if not isinstance(value, Mapping):
            raise _Mismatch("", f"expected a mapping, got {_describe(value)}")
        for name, required, check in fields:
            if name not in value:
                if required:
                    raise _Mismatch(f".{name}", "required field is missing")
                continue
            try:
                check(value[name])
            except _Mismatch as exc:
                raise _Mismatch(f".{name}{exc.path}", exc.message) from None
        if len(value) > len(known) or not known.issuperset(value):
            extra = sorted(set(value) - known)
            if extra:
                raise _Mismatch(f".{extra[0]}", "unknown field (a typo?)")

    return check_record


def compile_type_check(schema: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], None]:
    """Raise ValueError naming the field when a record cannot be encoded with ``schema``."""
    check = _record(schema, {})
    prefix = schema["name"]

    def type_check(record: Mapping[str, Any]) -> None:
        try:
            check(record)
        except _Mismatch as exc:
            raise ValueError(f"{prefix}{exc.path}: {exc.message}") from None

    return type_check


def _constraint(field: Mapping[str, Any]) -> Check | None:
    non_empty = field.get("wk.nonEmpty", False)
    low = field.get("wk.min")
    high = field.get("wk.max")
    if not non_empty and low is None and high is None:
        return None

    def check(value: Any) -> None:
        if value is None:
            return
        if non_empty and not value.strip():
            raise _Mismatch("", "must not be empty")
        if low is not None or high is not None:
            if isinstance(value, float) and not math.isfinite(value):
                raise _Mismatch("", f"must be a finite number, got {value!r}")
            if low is not None and value < low:
                raise _Mismatch("", f"must be >= {low}, got {value!r}")
            if high is not None and value > high:
                raise _Mismatch("", f"must be <= {high}, got {value!r}")

    return check


def _nested_records(avro_type: Any) -> list[Mapping[str, Any]]:
    if isinstance(avro_type, list):
        return [t for b in avro_type for t in _nested_records(b)]
    if isinstance(avro_type, Mapping) and avro_type.get("type") == "record":
        return [avro_type]
    return []


def _constraint_walker(schema: Mapping[str, Any]) -> Check | None:
    steps: list[tuple[str, Check]] = []
    for field in schema["fields"]:
        own = _constraint(field)
        if own is not None:
            steps.append((field["name"], own))
        for nested in _nested_records(field["type"]):
            inner = _constraint_walker(nested)
            if inner is not None:
                steps.append((field["name"], inner))
    if not steps:
        return None

    def check(record: Any) -> None:
        if record is None:
            return
        for name, step in steps:
            try:
                step(record.get(name))
            except _Mismatch as exc:
                raise _Mismatch(f".{name}{exc.path}", exc.message) from None

    return check


def compile_constraints(schema: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], None]:
    """Raise ValueError naming the field when a well-typed record breaks a ``wk.*`` rule."""
    walker = _constraint_walker(schema)
    prefix = schema["name"]
    if walker is None:
        return lambda record: None

    def constraints(record: Mapping[str, Any]) -> None:
        try:
            walker(record)
        except _Mismatch as exc:
            raise ValueError(f"{prefix}{exc.path}: {exc.message}") from None

    return constraints
