"""Fast yes/no checks generated from a schema as Python source.

The checks in ``_validate`` explain *what* is wrong, one closure call per value, which
costs microseconds per event. Emitting and decoding only need a yes or no; these
generated predicates answer it with straight-line code, and the explaining check runs
only when the answer is no.

>>> schema = {"type": "record", "name": "T", "fields": [
...     {"name": "id", "type": "string", "wk.nonEmpty": True},
...     {"name": "latency_ms", "type": "double", "wk.min": 0},
...     {"name": "score", "type": ["null", "double"], "default": None},
...     {"name": "features", "type": {"type": "map", "values": "double"}, "default": {}}]}
>>> ok_types = compile_fast_type_check(schema)
>>> ok_types({"id": "e1", "latency_ms": 1, "features": {"a": 0.5}})
True
>>> ok_types({"id": "e1", "latency_ms": True})
False
>>> ok_types({"id": "e1", "latency_ms": 1.0, "typo": 1})
False
>>> ok_rules = compile_fast_constraints(schema)
>>> ok_rules({"id": "e1", "latency_ms": 1.0}), ok_rules({"id": " ", "latency_ms": 1.0})
(True, False)
>>> ok_rules({"id": "e1", "latency_ms": float("nan")})
False
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# A condition that is True when ``{v}`` does NOT have the type.
_NOT_PRIMITIVE = {
    "null": "{v} is not None",
    "boolean": "type({v}) is not bool",
    "int": "type({v}) is not int",
    "long": "type({v}) is not int",
    "float": "type({v}) not in (float, int)",
    "double": "type({v}) not in (float, int)",
    "string": "type({v}) is not str",
    "bytes": "type({v}) not in (bytes, bytearray)",
}
# Longs beyond 64 bits make fastavro raise, which encode() reports as a ValueError too.
_INT_BOUNDS = {"int": (-(2**31), 2**31 - 1)}


class _Gen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {"_MISSING": object(), "_INF": float("inf")}
        self.counter = 0

    def var(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: Any) -> str:
        name = self.var("_c")
        self.consts[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _resolve(avro_type: Any, named: dict[str, Any]) -> Any:
    if isinstance(avro_type, str) and avro_type in named:
        return named[avro_type]
    if isinstance(avro_type, Mapping) and avro_type.get("type") in ("record", "enum", "fixed"):
        named[avro_type["name"]] = avro_type
    return avro_type


def _value_check(gen: _Gen, avro_type: Any, value: str, indent: int, named: dict[str, Any]) -> None:
    """Emit lines that ``return False`` when ``value`` does not fit ``avro_type``."""
    avro_type = _resolve(avro_type, named)
    if isinstance(avro_type, str):
        gen.emit(indent, f"if {_NOT_PRIMITIVE[avro_type].format(v=value)}: return False")
        if avro_type in _INT_BOUNDS:
            low, high = _INT_BOUNDS[avro_type]
            gen.emit(indent, f"if not ({low} <= {value} <= {high}): return False")
        return
    if isinstance(avro_type, list):
        if len(avro_type) == 2 and avro_type[0] == "null":
            gen.emit(indent, f"if {value} is not None:")
            _value_check(gen, avro_type[1], value, indent + 1, named)
            return
        fallback = gen.const(compile_fast_type_check_any(avro_type, named))
        gen.emit(indent, f"if not {fallback}({value}): return False")
        return
    kind = avro_type["type"]
    if kind in _NOT_PRIMITIVE:
        _value_check(gen, kind, value, indent, named)
    elif kind == "enum":
        symbols = gen.const(frozenset(avro_type["symbols"]))
        gen.emit(indent, f"if type({value}) is not str or {value} not in {symbols}: return False")
    elif kind == "map":
        item = gen.var("_v")
        gen.emit(
            indent,
            f"if type({value}) is not dict and not isinstance({value}, _Mapping): return False",
        )
        gen.emit(indent, f"for _k, {item} in {value}.items():")
        gen.emit(indent + 1, "if type(_k) is not str: return False")
        _value_check(gen, avro_type["values"], item, indent + 1, named)
    elif kind == "array":
        item = gen.var("_v")
        gen.emit(indent, f"if not isinstance({value}, (list, tuple)): return False")
        gen.emit(indent, f"for {item} in {value}:")
        _value_check(gen, avro_type["items"], item, indent + 1, named)
    elif kind == "record":
        nested = gen.const(compile_fast_type_check(avro_type, named))
        gen.emit(indent, f"if not {nested}({value}): return False")
    else:
        fallback = gen.const(compile_fast_type_check_any(avro_type, named))
        gen.emit(indent, f"if not {fallback}({value}): return False")


def _build(gen: _Gen, name: str) -> Callable[..., bool]:
    source = "\n".join(gen.lines)
    namespace: dict[str, Any] = {**gen.consts, "_Mapping": Mapping}
    exec(compile(source, f"<wk-fastcheck {name}>", "exec"), namespace)
    return namespace["check"]


def compile_fast_type_check(
    schema: Mapping[str, Any], named: dict[str, Any] | None = None
) -> Callable[[Any], bool]:
    """True when ``record`` can be encoded with ``schema``: types, required, no extras."""
    named = {} if named is None else named
    named[schema["name"]] = schema
    gen = _Gen()
    gen.emit(0, "def check(r):")
    # isinstance against an ABC is slow: test for a plain dict first.
    gen.emit(1, "if type(r) is not dict and not isinstance(r, _Mapping): return False")
    # Count the known fields present: fewer than len(r) means an unknown key (a typo).
    gen.emit(1, "_n = 0")
    gen.emit(1, "_get = r.get")
    gen.emit(1, "_M = _MISSING")
    for field in schema["fields"]:
        value = gen.var("_f")
        gen.emit(1, f"{value} = _get({field['name']!r}, _M)")
        if "default" in field:
            gen.emit(1, f"if {value} is not _M:")
            gen.emit(2, "_n += 1")
            _value_check(gen, field["type"], value, 2, named)
        else:
            gen.emit(1, f"if {value} is _M: return False")
            gen.emit(1, "_n += 1")
            _value_check(gen, field["type"], value, 1, named)
    gen.emit(1, "return _n == len(r)")
    return _build(gen, schema["name"])


def compile_fast_type_check_any(avro_type: Any, named: dict[str, Any]) -> Callable[[Any], bool]:
    """Rare shapes (general unions, fixed): reuse the explaining check as a predicate."""
    from ._validate import _compile, _Mismatch

    check = _compile(avro_type, dict(named))

    def predicate(value: Any) -> bool:
        try:
            check(value)
        except _Mismatch:
            return False
        return True

    return predicate


def _constraint_lines(gen: _Gen, schema: Mapping[str, Any], record: str, indent: int) -> None:
    for field in schema["fields"]:
        name = field["name"]
        non_empty = field.get("wk.nonEmpty", False)
        low, high = field.get("wk.min"), field.get("wk.max")
        nested = [
            t
            for t in (field["type"] if isinstance(field["type"], list) else [field["type"]])
            if isinstance(t, Mapping) and t.get("type") == "record"
        ]
        if not (non_empty or low is not None or high is not None or nested):
            continue
        value = gen.var("_f")
        gen.emit(indent, f"{value} = {record}.get({name!r})")
        gen.emit(indent, f"if {value} is not None:")
        if non_empty:
            gen.emit(indent + 1, f"if not {value}.strip(): return False")
        if low is not None or high is not None:
            lower = f"{low!r} <= {value}" if low is not None else f"-_INF < {value}"
            upper = f"{value} <= {high!r}" if high is not None else f"{value} < _INF"
            # Chained comparisons are False for NaN, which is what we want.
            gen.emit(indent + 1, f"if not ({lower} and {upper}): return False")
        for record_type in nested:
            gen.emit(indent + 1, f"if type({value}) is dict or isinstance({value}, _Mapping):")
            before = len(gen.lines)
            _constraint_lines(gen, record_type, value, indent + 2)
            if len(gen.lines) == before:
                gen.emit(indent + 2, "pass")  # a nested record without wk.* rules


def compile_fast_constraints(schema: Mapping[str, Any]) -> Callable[[Any], bool]:
    """True when a well-typed record keeps every ``wk.*`` rule of ``schema``."""
    gen = _Gen()
    gen.emit(0, "def check(r):")
    _constraint_lines(gen, schema, "r", 1)
    gen.emit(1, "return True")
    return _build(gen, schema["name"] + " constraints")
