"""Transformations declared per source in YAML, applied in order to every row **before**
the mapping (so they work on column names, and the mapping reads their results).

.. code-block:: yaml

    source: payments            # lineage jobs are ingest.<source>.<step name>
    steps:
      - rename: {amt: amount, ccy: currency}
      - cast: {amount: float, n_items: int, vip: bool}
      - name: to-eur            # a step's name (default: <position>-<kind>, e.g. 3-derive)
        derive: {amount_eur: "amount * 0.92 if currency == 'USD' else amount"}
      - fill: {channel: web}    # missing or null -> this value
      - drop: [debug, raw]
      - filter: "amount > 0"    # rows for which it is false are counted, not dead-lettered
      - dedup: [request_id]     # the first row with a key wins, within the file
      - hook: mypkg.clean:row   # row dict -> row dict, or None to drop it

A bad file (unknown step, a column no earlier step or the file has, an expression that does
not parse, a hook that does not import) → ``ConfigFileError`` ``t.yaml:line: reason``. Per
row, a cast that fails, an expression that raises, or a hook that raises is a bad row
(``RowError``; dead-lettered with the reason).

>>> from watchkeeper.yamlconf import load_text
>>> t = parse(load_text('''
... steps:
...   - rename: {amt: amount}
...   - cast: {amount: float}
...   - derive: {double: "amount * 2"}
...   - filter: "amount > 0"
...   - dedup: [id]
... ''', "t.yaml"), default_source="pay")
>>> [s.name for s in t.steps], sorted(t.columns_after({"id", "amt"}))
(['1-rename', '2-cast', '3-derive', '4-filter', '5-dedup'], ['amount', 'double', 'id'])
>>> t.apply({"id": "a", "amt": "2.5"})
(None, {'id': 'a', 'amount': 2.5, 'double': 5.0})
>>> t.apply({"id": "b", "amt": "-1"})[0], t.apply({"id": "a", "amt": "3"})[0]
('filtered', 'deduplicated')
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..yamlconf import ConfigFileError
from ..yamlconf import Mapping as Doc
from .casts import CASTS
from .errors import RowError
from .expressions import CONSTANTS, FUNCTIONS, Expression

KINDS = ("rename", "cast", "derive", "fill", "drop", "filter", "dedup", "hook")
FILTERED, DEDUPLICATED = "filtered", "deduplicated"
Row = dict[str, Any]


@dataclass
class Step:
    kind: str
    name: str
    line: int
    arg: Any  # what the kind needs: a dict, a list, an Expression, a function
    seen: set[tuple[Any, ...]] = field(default_factory=set)

    def reads(self) -> list[str]:
        """The columns it needs to exist."""
        if self.kind in ("rename", "cast"):
            return list(self.arg)
        if self.kind in ("drop", "dedup"):
            return list(self.arg)
        if self.kind == "derive":
            return sorted({n for e in self.arg.values() for n in e.names()} - _BUILTINS)
        if self.kind == "filter":
            return sorted(self.arg.names() - _BUILTINS)
        return []

    def columns_after(self, columns: set[str]) -> set[str] | None:
        if self.kind == "rename":
            return (columns - set(self.arg)) | set(self.arg.values())
        if self.kind in ("derive", "fill"):
            return columns | set(self.arg)
        if self.kind == "drop":
            return columns - set(self.arg)
        if self.kind == "hook":
            return None  # a hook may add or remove anything
        return columns

    def apply(self, row: Row) -> Row | str:
        """The row after this step, or FILTERED / DEDUPLICATED; RowError for a bad row."""
        kind, arg = self.kind, self.arg
        if kind == "rename":
            for old, new in arg.items():
                if old in row:
                    row[new] = row.pop(old)
        elif kind == "cast":
            for column, cast in arg.items():
                value = row.get(column)
                if value is not None and value != "":
                    try:
                        row[column] = cast(value)
                    except ValueError as exc:
                        raise RowError("cast", f"{self.name}: {column}: {exc}") from None
        elif kind == "derive":
            for column, expression in arg.items():
                try:
                    row[column] = expression.evaluate(row)
                except ValueError as exc:
                    raise RowError("expression", f"{self.name}: {column}: {exc}") from None
        elif kind == "fill":
            for column, value in arg.items():
                if row.get(column) is None or row.get(column) == "":
                    row[column] = value
        elif kind == "drop":
            for column in arg:
                row.pop(column, None)
        elif kind == "filter":
            try:
                keep = arg.evaluate(row)
            except ValueError as exc:
                raise RowError("expression", f"{self.name}: {exc}") from None
            if not keep:
                return FILTERED
        elif kind == "dedup":
            key = tuple(_hashable(row.get(c)) for c in arg)
            if key in self.seen:
                return DEDUPLICATED
            self.seen.add(key)
        else:
            try:
                result = arg(row)
            except Exception as exc:  # the hook's own failure is this row's, not ours
                raise RowError("hook", f"{self.name}: {type(exc).__name__}: {exc}") from None
            if result is None:
                return FILTERED
            if not isinstance(result, dict):
                raise RowError("hook", f"{self.name}: returned {type(result).__name__}, not a dict")
            return result
        return row


_BUILTINS = set(FUNCTIONS) | set(CONSTANTS)


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


@dataclass
class Transform:
    source: str
    steps: list[Step]
    path: str = ""

    def apply(self, row: Row) -> tuple[str | None, Row]:
        """(None, the row) or (FILTERED or DEDUPLICATED, the row so far)."""
        for step in self.steps:
            result = step.apply(row)
            if isinstance(result, str):
                return result, row
            row = result
        return None, row

    def columns_after(self, columns: set[str]) -> set[str] | None:
        current: set[str] | None = set(columns)
        for step in self.steps:
            if current is None:
                return None
            current = step.columns_after(current)
        return current

    def check_columns(self, columns: set[str], exact: bool) -> None:
        """Refuse a step reading a column the file (or an earlier step) does not have.
        ``exact`` is False for JSONL, whose columns are only the keys it happened to use."""
        current: set[str] | None = set(columns)
        for step in self.steps:
            if current is None:
                return
            if exact or step.kind != "fill":
                for name in step.reads():
                    if name not in current:
                        raise ConfigFileError(
                            self.path,
                            step.line,
                            f"{step.name}: no column {name!r} here "
                            f"(there are: {', '.join(sorted(current)[:20]) or 'none'})",
                        )
            current = step.columns_after(current)


def _step(item: Any, index: int, path: str, steps_line: int) -> Step:
    if not isinstance(item, Doc):
        raise ConfigFileError(
            path,
            getattr(item, "line", steps_line),
            f"step {index}: a mapping such as {{rename: {{a: b}}}}",
        )
    kinds = [k for k in item if k in KINDS]
    extra = set(item) - set(KINDS) - {"name"}
    if extra:
        key = sorted(extra)[0]
        raise item.error(key, f"unknown step {key!r} (use {', '.join(KINDS)})")
    if len(kinds) != 1:
        raise item.error(None, f"step {index}: say exactly one of {', '.join(KINDS)}")
    kind = kinds[0]
    name = item.get("name", f"{index}-{kind}")
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise item.error("name", f"step name {name!r}: letters, digits, - and _ only")
    line, value = item.line_of(kind), item[kind]
    return Step(kind, name, line, _argument(kind, value, item, path, line))


def _argument(kind: str, value: Any, item: Doc, path: str, line: int) -> Any:
    def fail(reason: str) -> ConfigFileError:
        return ConfigFileError(path, line, f"{kind}: {reason}")

    if kind in ("rename", "cast", "derive", "fill"):
        if not isinstance(value, dict) or not value:
            raise fail("give a mapping of columns")
        if kind == "rename":
            if not all(isinstance(v, str) and v for v in value.values()):
                raise fail("new names must be text")
            return dict(value)
        if kind == "cast":
            unknown = [t for t in value.values() if t not in CASTS]
            if unknown:
                raise fail(f"unknown type {unknown[0]!r} (use {', '.join(CASTS)})")
            return {column: CASTS[t] for column, t in value.items()}
        if kind == "derive":
            parsed = {}
            for column, text in value.items():
                try:
                    parsed[column] = Expression.parse(text)
                except ValueError as exc:
                    raise ConfigFileError(path, value.line_of(column), f"{column}: {exc}") from None
            return parsed
        return dict(value)
    if kind in ("drop", "dedup"):
        columns = [value] if isinstance(value, str) else value
        if (
            not isinstance(columns, list)
            or not columns
            or not all(isinstance(c, str) for c in columns)
        ):
            raise fail("give a column or a list of columns")
        return list(columns)
    if kind == "filter":
        try:
            return Expression.parse(value)
        except ValueError as exc:
            raise fail(str(exc)) from None
    return _hook(value, fail)


def _hook(value: Any, fail: Callable[[str], ConfigFileError]) -> Callable[[Row], Any]:
    if not isinstance(value, str) or value.count(":") != 1:
        raise fail("give module:function, e.g. mypkg.clean:row")
    module_name, function_name = value.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an ImportError, or the module failing as it loads
        raise fail(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise fail(f"{module_name} has no function {function_name!r}")
    return function


def parse(doc: Any, default_source: str) -> Transform:
    path = getattr(doc, "source", "transform")
    if not isinstance(doc, Doc):
        raise ConfigFileError(path, getattr(doc, "line", None), "give source: and steps:")
    unknown = set(doc) - {"source", "steps"}
    if unknown:
        key = sorted(unknown)[0]
        raise doc.error(key, f"unknown key {key!r} (use source, steps)")
    source = doc.get("source", default_source)
    if not isinstance(source, str) or not source:
        raise doc.error("source", "source must be a name")
    items = doc.get("steps")
    if not isinstance(items, list) or not items:
        raise doc.error("steps" if "steps" in doc else None, "steps: a list of steps")
    steps = [_step(item, i, path, doc.line_of("steps")) for i, item in enumerate(items, 1)]
    names = [s.name for s in steps]
    for step in steps:
        if names.count(step.name) > 1:
            raise ConfigFileError(path, step.line, f"two steps are named {step.name!r}")
    return Transform(source, steps, path)


def load(path: str, default_source: str) -> Transform:
    from ..yamlconf import load_file

    return parse(load_file(path), default_source)
