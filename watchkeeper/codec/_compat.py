"""Backward compatibility: can a reader schema read everything a writer schema wrote?

The rules are the Avro specification's schema resolution, written out so that a check
names each break instead of failing on the first record that happens to hit it.

>>> old = {"type": "record", "name": "E", "fields": [{"name": "a", "type": "int"}]}
>>> grown = {"type": "record", "name": "E", "fields": [
...     {"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": ""}]}
>>> incompatibilities(writer=old, reader=grown)
[]
>>> broken = {"type": "record", "name": "E", "fields": [
...     {"name": "a", "type": "int"}, {"name": "b", "type": "string"}]}
>>> incompatibilities(writer=old, reader=broken)
['E.b: new field has no default, so old data cannot fill it']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "double": {"double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
    "null": {"null"},
    "boolean": {"boolean"},
}
_NAMED = ("record", "enum", "fixed")


def _full_name(schema: Mapping[str, Any], namespace: str | None) -> str:
    name = schema["name"]
    if "." in name:
        return name
    ns = schema.get("namespace", namespace)
    return f"{ns}.{name}" if ns else name


class _Side:
    """Resolves named-type references on one side (writer or reader)."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}

    def resolve(self, avro_type: Any, namespace: str | None) -> tuple[Any, str | None]:
        if isinstance(avro_type, str) and avro_type not in _PROMOTIONS:
            key = avro_type if "." in avro_type or not namespace else f"{namespace}.{avro_type}"
            found = self.names.get(key) or self.names.get(avro_type)
            if found is None:
                raise ValueError(f"unknown named type {avro_type!r}")
            return found
        if isinstance(avro_type, Mapping) and avro_type.get("type") in _NAMED:
            full = _full_name(avro_type, namespace)
            ns = full.rsplit(".", 1)[0] if "." in full else None
            self.names[full] = (avro_type, ns)
            self.names.setdefault(avro_type["name"], (avro_type, ns))
            return avro_type, ns
        if isinstance(avro_type, Mapping) and avro_type.get("type") in _PROMOTIONS:
            return avro_type["type"], namespace
        return avro_type, namespace


def _kind(avro_type: Any) -> str:
    if isinstance(avro_type, str):
        return avro_type
    if isinstance(avro_type, list):
        return "union"
    return avro_type["type"]


def incompatibilities(writer: Any, reader: Any) -> list[str]:
    """Every reason why ``reader`` cannot read data written with ``writer`` (empty if it can)."""
    problems: list[str] = []
    _check(writer, None, _Side(), reader, None, _Side(), _root_path(reader), problems, set())
    return problems


def _root_path(schema: Any) -> str:
    return schema.get("name", "") if isinstance(schema, Mapping) else str(schema)


def _check(
    w: Any,
    w_ns: str | None,
    ws: _Side,
    r: Any,
    r_ns: str | None,
    rs: _Side,
    path: str,
    out: list[str],
    seen: set[tuple[int, int]],
) -> None:
    w, w_ns = ws.resolve(w, w_ns)
    r, r_ns = rs.resolve(r, r_ns)
    wk, rk = _kind(w), _kind(r)

    if wk == "union":
        for branch in w:
            _check(branch, w_ns, ws, r, r_ns, rs, path, out, seen)
        return
    if rk == "union":
        closest: list[str] | None = None
        for branch in r:
            trial: list[str] = []
            _check(w, w_ns, ws, branch, r_ns, rs, path, trial, set(seen))
            if not trial:
                return
            resolved, _ = rs.resolve(branch, r_ns)
            if _kind(resolved) == wk and (
                wk not in _NAMED
                or resolved["name"].rsplit(".", 1)[-1] == w["name"].rsplit(".", 1)[-1]
            ):
                closest = trial  # the branch meant to hold it: its reasons are the useful ones
        if closest:
            out.extend(closest)
        else:
            out.append(f"{path}: written as {wk}, which no branch of the new union can read")
        return

    if wk in _PROMOTIONS or rk in _PROMOTIONS:
        if rk not in _PROMOTIONS.get(wk, set()):
            out.append(f"{path}: type changed from {wk} to {rk}")
        return
    if wk != rk:
        out.append(f"{path}: type changed from {wk} to {rk}")
        return

    if wk in _NAMED:
        w_name, r_name = w["name"].rsplit(".", 1)[-1], r["name"].rsplit(".", 1)[-1]
        aliases = {a.rsplit(".", 1)[-1] for a in r.get("aliases", [])}
        if w_name != r_name and w_name not in aliases:
            out.append(f"{path}: {wk} renamed from {w_name} to {r_name} without an alias")
            return
        key = (id(w), id(r))
        if key in seen:  # recursive types: this pair is being checked further up
            return
        seen.add(key)

    if wk == "record":
        by_name = {f["name"]: f for f in w["fields"]}
        for field in r["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            source = next((by_name[n] for n in names if n in by_name), None)
            where = f"{path}.{field['name']}"
            if source is None:
                if "default" not in field:
                    out.append(f"{where}: new field has no default, so old data cannot fill it")
                continue
            _check(source["type"], w_ns, ws, field["type"], r_ns, rs, where, out, seen)
    elif wk == "enum":
        missing = [s for s in w["symbols"] if s not in r["symbols"]]
        if missing and "default" not in r:
            out.append(f"{path}: enum symbols {missing} removed and the enum has no default")
    elif wk == "fixed":
        if w["size"] != r["size"]:
            out.append(f"{path}: fixed size changed from {w['size']} to {r['size']}")
    elif wk == "array":
        _check(w["items"], w_ns, ws, r["items"], r_ns, rs, f"{path}[]", out, seen)
    elif wk == "map":
        _check(w["values"], w_ns, ws, r["values"], r_ns, rs, f"{path}{{}}", out, seen)
