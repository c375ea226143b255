"""The per-event checks of one contract: the hot path of the quality service.

A contract is compiled once into the source of one straight-line Python function (as
``watchkeeper.codec._fastcheck`` does for schemas): per field a dict lookup, a comparison or
two and an integer increment, constants inlined, no loop and no per-field branching on the
field's kind at run time. ``Checker.source`` shows the generated code.

The model's outputs (``score``, ``prediction_label``, ``prediction_value``) are not judged
on failed predictions (status not OK): their absence there is no data problem.

A value is **missing** when absent, None, NaN (the SDK's way to say "no value" in
``num_features``) or an empty string. A present value is then checked for its **type**
(consistency), and for its **range** or **allowed values** (accuracy); an infinite number
is out of any range. A rule is judged only when both sides are present (a missing side is
completeness's business); comparing a number with a string breaks it.

>>> from .contract import load_text, parse
>>> contract = parse(load_text('''
... contracts:
...   fraud:
...     fields:
...       features.amount: {type: number, required: true, min: 0}
...       features.channel: {type: string, allowed: [web, app]}
...     rules: ["features.end >= features.start"]
... ''', "q.yaml")).for_model("fraud")
>>> checker = Checker(contract)
>>> counts = checker.new_counts()
>>> event = {"num_features": {"amount": -5.0, "start": 10.0, "end": 5.0},
...          "cat_features": {"channel": "fax"}, "segments": {}}
>>> checker.check(event, counts)          # a broken rule makes the event inconsistent
True
>>> counts.present, counts.invalid, counts.rules
([1, 1], [1, 1], [1])
>>> checker.check({"num_features": {}, "cat_features": {"amount": "12"}, "segments": {}}, counts)
True
>>> counts.wrong_type
[1, 0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .contract import ANY, FEATURE, INTEGER, SEGMENT, STRING, Contract, FieldSpec, Where
from .counts import WindowCounts

_MISSING = object()


def _lookup(record: dict[str, Any], where: int, key: str) -> Any:
    """A rule operand's value, or _MISSING."""
    if where == FEATURE:
        value = record["num_features"].get(key)
        if value is None:
            value = record["cat_features"].get(key)
    elif where == SEGMENT:
        value = record["segments"].get(key)
    else:
        value = record.get(key)
    if value is None or value != value or value == "":
        return _MISSING
    return value


class _Source:
    """Python source of one function, with the constants it refers to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {"_MISSING": _MISSING, "_lookup": _lookup}

    def const(self, value: Any) -> str:
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _literal(src: _Source, value: float) -> str:
    # repr() of a finite float is a Python literal; inf and nan (YAML .inf, .nan) are not.
    return repr(value) if math.isfinite(value) else src.const(value)


def _numeric(src: _Source, i: int, spec: FieldSpec, kind: int, indent: int) -> None:
    """Checks of a present number ``v``: integral, finite, in range, allowed."""
    bad = []
    if kind != INTEGER:
        bad.append("v - v")  # NaN (truthy) only for an infinite v: out of any range
    if spec.minimum is not None:
        bad.append(f"v < {_literal(src, spec.minimum)}")
    if spec.maximum is not None:
        bad.append(f"v > {_literal(src, spec.maximum)}")
    if spec.allowed is not None:
        bad.append(f"v not in {src.const(spec.allowed)}")
    if kind == INTEGER:
        src.emit(indent, "if v - v:")
        src.emit(indent + 1, f"invalid[{i}] += 1")
        src.emit(indent, "elif not v.is_integer():")
        src.emit(indent + 1, f"wrong[{i}] += 1")
        src.emit(indent + 1, "bad = True")
        if not bad:
            return
        src.emit(indent, f"elif {' or '.join(bad)}:")
    else:
        src.emit(indent, f"if {' or '.join(bad)}:")
    src.emit(indent + 1, f"invalid[{i}] += 1")


def _text(src: _Source, i: int, spec: FieldSpec, indent: int) -> None:
    """Checks of a present string ``v``: allowed."""
    if spec.allowed is not None:
        src.emit(indent, f"if v not in {src.const(spec.allowed)}:")
        src.emit(indent + 1, f"invalid[{i}] += 1")


def _wrong(src: _Source, i: int, indent: int) -> None:
    src.emit(indent, f"present[{i}] += 1")
    src.emit(indent, f"wrong[{i}] += 1")
    src.emit(indent, "bad = True")


def _field(src: _Source, i: int, spec: FieldSpec) -> None:
    key, kind = repr(spec.key), spec.type
    indent = 1
    src.emit(indent, f"# {spec.path}")
    if spec.output:
        src.emit(indent, "if not failed:")
        indent += 1
    if spec.where == FEATURE and kind == STRING:
        src.emit(indent, f"v = cat.get({key})")
        src.emit(indent, "if v is None:")
        src.emit(indent + 1, f"v = num.get({key})")
        src.emit(indent + 1, "if v is not None and v == v:")
        _wrong(src, i, indent + 2)
        src.emit(indent, 'elif v != "":')
        src.emit(indent + 1, f"present[{i}] += 1")
        _text(src, i, spec, indent + 1)
    elif spec.where == FEATURE:
        src.emit(indent, f"v = num.get({key})")
        src.emit(indent, "if v is None:")
        src.emit(indent + 1, f"v = cat.get({key})")
        src.emit(indent + 1, 'if v is not None and v != "":')
        if kind == ANY:
            src.emit(indent + 2, f"present[{i}] += 1")
            _text(src, i, spec, indent + 2)
        else:
            _wrong(src, i, indent + 2)
        src.emit(indent, "elif v == v:")
        src.emit(indent + 1, f"present[{i}] += 1")
        _numeric(src, i, spec, kind, indent + 1)
    else:
        # Segments and top-level fields have one type each (the schema's).
        source = "seg.get" if spec.where == SEGMENT else "record.get"
        src.emit(indent, f"v = {source}({key})")
        if kind == STRING:
            src.emit(indent, 'if v is not None and v != "":')
            src.emit(indent + 1, f"present[{i}] += 1")
            _text(src, i, spec, indent + 1)
        else:
            src.emit(indent, "if v is not None and v == v:")
            src.emit(indent + 1, f"present[{i}] += 1")
            _numeric(src, i, spec, kind, indent + 1)


def _operand(src: _Source, where: Where) -> str:
    return f"_lookup(record, {where.where}, {where.key!r})"


def compile_check(contract: Contract) -> tuple[Callable[[Any, WindowCounts], bool], str]:
    """The check function of ``contract`` and its source."""
    src = _Source()
    src.emit(0, "def check(record, counts):")
    src.emit(1, "bad = False")
    if contract.fields:
        src.emit(1, 'num = record["num_features"]')
        src.emit(1, 'cat = record["cat_features"]')
        src.emit(1, 'seg = record["segments"]')
        src.emit(1, "present, invalid, wrong = counts.present, counts.invalid, counts.wrong_type")
        src.emit(1, 'failed = record.get("status", "OK") != "OK"')
        src.emit(1, "if failed:")
        src.emit(2, "counts.failed += 1")
        for i, spec in enumerate(contract.fields):
            _field(src, i, spec)
    for j, rule in enumerate(contract.rules):
        src.emit(1, f"# rule {rule.name}")
        src.emit(1, f"a = {_operand(src, rule.left)}")
        src.emit(1, "if a is not _MISSING:")
        right = src.const(rule.constant) if rule.right is None else _operand(src, rule.right)
        src.emit(2, f"b = {right}")
        src.emit(2, "if b is not _MISSING:")
        src.emit(3, "try:")
        src.emit(4, f"holds = {src.const(rule.compare)}(a, b)")
        src.emit(3, "except TypeError:  # a number against a string: the rule cannot hold")
        src.emit(4, "holds = False")
        src.emit(3, "if not holds:")
        src.emit(4, f"counts.rules[{j}] += 1")
        src.emit(4, "bad = True")
    src.emit(1, "return bad")
    text = "\n".join(src.lines)
    namespace = dict(src.consts)
    exec(compile(text, f"<quality check {contract.model}>", "exec"), namespace)
    return namespace["check"], text


class Checker:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.check, self.source_code = compile_check(contract)
        self.source: Where | None = contract.source_by
        self._fields, self._rules = len(contract.fields), len(contract.rules)

    def new_counts(self) -> WindowCounts:
        return WindowCounts(self._fields, self._rules)

    def source_of(self, record: dict[str, Any]) -> str | None:
        """The event's source (``source_by``), or None when it does not say."""
        where = self.source
        if where is None:
            return None
        if where.where == SEGMENT:  # the usual case, and the cheap one
            value = record["segments"].get(where.key)
            return value or None
        value = _lookup(record, where.where, where.key)
        return None if value is _MISSING else str(value)
