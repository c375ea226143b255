"""Data contracts: what each model's events must look like, read from YAML.

A contract names **fields** (where in the event they live, their type, whether they are
required, their range or allowed values), **rules** across fields (``end >= start``), how
old an event may be, how long a model or one of its sources may stay silent, and the
thresholds below which its **gate** blocks. ``defaults`` applies to every model, also to
models without a contract of their own (they get duplicate, freshness and silence checks).

Field paths:

======================== ===========================================================
``features.<name>``      ``num_features`` or ``cat_features`` (the type says which is
                         right; a value in the other map is a type violation)
``segments.<name>``      a segment label (string)
``score`` ``tenant`` ... a top-level field of PredictionEvent (see ``TOP_FIELDS``)
======================== ===========================================================

>>> contracts = parse(load_text('''
... defaults: {window: 30s, thresholds: {completeness: 99%}}
... contracts:
...   fraud:
...     gate: fraud-training
...     fields:
...       features.amount: {type: number, required: true, min: 0}
...       features.channel: {type: string, allowed: [web, app]}
...     rules: ["features.end >= features.start"]
... ''', "quality.yaml"))
>>> fraud = contracts.for_model("fraud")
>>> fraud.gate, fraud.window_ms, fraud.thresholds.completeness, [f.path for f in fraud.fields]
('fraud-training', 30000, 0.99, ['features.amount', 'features.channel'])
>>> contracts.for_model("recommender").gate   # no contract: the defaults, gated by model name
'recommender'
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from watchkeeper.yamlconf import ConfigFileError, Mapping, load_file, load_text, parse_duration

__all__ = ["ConfigFileError", "Contract", "ContractSet", "load", "load_text", "parse"]

# Where a value lives in a PredictionEvent.
TOP, FEATURE, SEGMENT = 0, 1, 2
# What a field's value must be.
ANY, NUMBER, INTEGER, STRING = 0, 1, 2, 3
TYPES = {"number": NUMBER, "integer": INTEGER, "string": STRING}
TOP_FIELDS = {
    "score": NUMBER,
    "prediction_value": NUMBER,
    "latency_ms": NUMBER,
    "cost_usd": NUMBER,
    "prediction_label": STRING,
    "region": STRING,
    "tenant": STRING,
    "user_id": STRING,
    "use_case": STRING,
    "input_hash": STRING,
    "error_type": STRING,
    "variant": STRING,
    "version": STRING,
    "status": STRING,
}
# What a model answers: absent by nature when the prediction failed (status not OK), so
# these are judged on successful predictions only.
OUTPUT_FIELDS = frozenset({"prediction_label", "prediction_value", "score"})
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
CHECKS = ("completeness", "accuracy", "consistency", "freshness")
_RULE = re.compile(r"^\s*(\S+)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")
_FIELD_KEYS = {"type", "required", "min", "max", "allowed"}
_SETTINGS = {
    "window",
    "min_events",
    "for",
    "recover",
    "max_age",
    "silence",
    "source_silence",
    "source_by",
    "silence_blocks",
    "severity",
    "labels",
    "thresholds",
    "fields",
    "rules",
}


@dataclass(frozen=True)
class Where:
    """A place in the event: ``where`` (TOP, FEATURE, SEGMENT) and the key there."""

    text: str
    where: int
    key: str


@dataclass(frozen=True)
class FieldSpec:
    path: str
    where: int
    key: str
    type: int = ANY
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    allowed: frozenset[Any] | None = None

    @property
    def output(self) -> bool:
        return self.where == TOP and self.key in OUTPUT_FIELDS

    @property
    def constrained(self) -> bool:
        """Whether accuracy applies: a range or a list of allowed values."""
        return self.minimum is not None or self.maximum is not None or self.allowed is not None


@dataclass(frozen=True)
class Rule:
    """``left op right``; ``right`` is a path or a constant (number or string)."""

    name: str
    left: Where
    op: str
    right: Where | None
    constant: Any = None

    @property
    def compare(self) -> Callable[[Any, Any], bool]:
        return OPERATORS[self.op]


@dataclass(frozen=True)
class Thresholds:
    completeness: float = 0.99
    accuracy: float = 0.99
    consistency: float = 0.99
    freshness: float = 0.95

    def of(self, check: str) -> float:
        return getattr(self, check)


@dataclass(frozen=True)
class Contract:
    model: str
    gate: str
    fields: tuple[FieldSpec, ...] = ()
    rules: tuple[Rule, ...] = ()
    window_ms: int = 60_000
    min_events: int = 20
    for_windows: int = 2
    recover_windows: int = 2
    max_age_ms: int = 300_000
    silence_ms: int = 600_000
    source_silence_ms: int = 600_000
    source_by: Where | None = None
    silence_blocks: bool = True
    severity: str = "ticket"
    labels: dict[str, str] = field(default_factory=dict)
    thresholds: Thresholds = Thresholds()


@dataclass
class ContractSet:
    defaults: Contract
    contracts: dict[str, Contract]
    _derived: dict[str, Contract] = field(default_factory=dict)

    def for_model(self, model: str) -> Contract:
        found = self.contracts.get(model) or self._derived.get(model)
        if found is None:
            found = self._derived[model] = replace(self.defaults, model=model, gate=model)
        return found


def duration_ms(doc: Mapping, key: str) -> int:
    try:
        value = int(parse_duration(str(doc[key])) * 1000)
    except ValueError as exc:
        raise doc.error(key, str(exc)) from None
    return value


def share(doc: Mapping, key: str) -> float:
    """``99.5%`` or ``0.995``: a share between 0 and 1."""
    raw = str(doc[key]).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise doc.error(key, f"{key} must be a share such as 0.99 or 99%, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise doc.error(key, f"{key} must be between 0 and 1 (or 0% and 100%), got {raw!r}")
    return value


def parse_path(text: str, doc: Mapping, key: str) -> Where:
    head, dot, rest = text.partition(".")
    if dot and rest and head == "features":
        return Where(text, FEATURE, rest)
    if dot and rest and head == "segments":
        return Where(text, SEGMENT, rest)
    if not dot and text in TOP_FIELDS:
        return Where(text, TOP, text)
    raise doc.error(
        key,
        f"unknown field {text!r}: use features.<name>, segments.<name> or one of "
        + ", ".join(sorted(TOP_FIELDS)),
    )


def _whole(doc: Mapping, key: str, minimum: int) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise doc.error(key, f"{key} must be a whole number >= {minimum}, got {value!r}")
    return value


def _number(doc: Mapping, key: str) -> float:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise doc.error(key, f"{key} must be a number, got {value!r}")
    return float(value)


def _field(path: str, doc: Any, parent: Mapping) -> FieldSpec:
    if not isinstance(doc, Mapping):
        raise parent.error(path, f"{path}: expected a mapping such as {{type: number}}")
    unknown = sorted(set(doc) - _FIELD_KEYS)
    if unknown:
        known = ", ".join(sorted(_FIELD_KEYS))
        raise doc.error(unknown[0], f"unknown key {unknown[0]!r}; known: {known}")
    where = parse_path(path, parent, path)
    kind = ANY
    if "type" in doc:
        if doc["type"] not in TYPES:
            raise doc.error("type", f"type must be one of {', '.join(TYPES)}, got {doc['type']!r}")
        kind = TYPES[doc["type"]]
    if where.where == TOP:
        natural = TOP_FIELDS[where.key]
        if kind not in (ANY, natural) and not (kind == INTEGER and natural == NUMBER):
            raise doc.error("type", f"{path} is always a {_type_name(natural)} in PredictionEvent")
        kind = kind or natural
    elif where.where == SEGMENT:
        if kind not in (ANY, STRING):
            raise doc.error("type", f"{path}: segment labels are strings")
        kind = STRING
    required = doc.get("required", False)
    if not isinstance(required, bool):
        raise doc.error("required", f"required must be true or false, got {required!r}")
    minimum = _number(doc, "min") if "min" in doc else None
    maximum = _number(doc, "max") if "max" in doc else None
    if kind == STRING and (minimum is not None or maximum is not None):
        raise doc.error("min" if "min" in doc else "max", f"{path}: a string has no range")
    allowed = None
    if "allowed" in doc:
        values = doc["allowed"]
        if not isinstance(values, list) or not values:
            raise doc.error("allowed", "allowed must be a non-empty list")
        # Numbers compare as floats, the way num_features carries them.
        allowed = frozenset(
            float(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
            for v in values
        )
    return FieldSpec(path, where.where, where.key, kind, required, minimum, maximum, allowed)


def _type_name(kind: int) -> str:
    return {v: k for k, v in TYPES.items()}[kind]


def _operand(text: str, doc: Mapping, key: str) -> tuple[Where | None, Any]:
    if text.startswith(("'", '"')) and text.endswith(text[0]) and len(text) >= 2:
        return None, text[1:-1]
    try:
        return None, float(text)
    except ValueError:
        return parse_path(text, doc, key), None


def _rule(item: Any, rules: Any, index: int) -> Rule:
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"name", "expr"})
        if unknown or "expr" not in item:
            raise item.error(unknown[0] if unknown else None, "a rule is {name: ..., expr: ...}")
        expr, name, doc, key = (
            str(item["expr"]),
            str(item.get("name") or item["expr"]),
            item,
            "expr",
        )
    elif isinstance(item, str):
        expr, name, doc, key = item, item, _at(rules, index), None
    else:
        raise _at(rules, index).error(None, f"a rule is a string such as 'a >= b', got {item!r}")
    found = _RULE.match(expr)
    if not found:
        raise doc.error(key, f"rule {expr!r}: expected '<field> <op> <field or constant>'")
    left, op, right_text = found.groups()
    left_path, _ = _operand(left, doc, key or "rules")
    if left_path is None:
        raise doc.error(key, f"rule {expr!r}: the left side must be a field, got {left!r}")
    right, constant = _operand(right_text, doc, key or "rules")
    return Rule(name, left_path, op, right, constant)


def _at(sequence: Any, index: int) -> Mapping:
    """A Mapping standing for one list item, so its errors carry the list's file and line."""
    where = Mapping()
    where.source, where.line = getattr(sequence, "source", ""), getattr(sequence, "line", 0)
    return where


def _settings(doc: Mapping, base: Contract) -> Contract:
    unknown = sorted(set(doc) - _SETTINGS)
    if unknown:
        raise doc.error(
            unknown[0], f"unknown key {unknown[0]!r}; known: {', '.join(sorted(_SETTINGS))}"
        )
    changes: dict[str, Any] = {}
    for key, name in (
        ("window", "window_ms"),
        ("max_age", "max_age_ms"),
        ("silence", "silence_ms"),
        ("source_silence", "source_silence_ms"),
    ):
        if key in doc:
            changes[name] = duration_ms(doc, key)
            if changes[name] <= 0:
                raise doc.error(key, f"{key} must be longer than 0s")
    for key, name, low in (
        ("min_events", "min_events", 1),
        ("for", "for_windows", 1),
        ("recover", "recover_windows", 1),
    ):
        if key in doc:
            changes[name] = _whole(doc, key, low)
    if "window" in doc and changes["window_ms"] < 1000:
        raise doc.error("window", "window must be at least 1s")
    if "source_by" in doc:
        value = doc["source_by"]
        changes["source_by"] = None if value is None else parse_path(str(value), doc, "source_by")
    if "silence_blocks" in doc:
        if not isinstance(doc["silence_blocks"], bool):
            raise doc.error("silence_blocks", "silence_blocks must be true or false")
        changes["silence_blocks"] = doc["silence_blocks"]
    if "severity" in doc:
        changes["severity"] = str(doc["severity"])
    if "labels" in doc:
        if not isinstance(doc["labels"], Mapping):
            raise doc.error("labels", "labels must map names to values")
        changes["labels"] = {**base.labels, **{k: str(v) for k, v in doc["labels"].items()}}
    if "thresholds" in doc:
        given = doc["thresholds"]
        if not isinstance(given, Mapping):
            raise doc.error("thresholds", "thresholds must map checks to shares")
        unknown = sorted(set(given) - set(CHECKS))
        if unknown:
            raise given.error(
                unknown[0], f"unknown check {unknown[0]!r}; known: {', '.join(CHECKS)}"
            )
        changes["thresholds"] = replace(base.thresholds, **{k: share(given, k) for k in given})
    if "fields" in doc:
        given = doc["fields"]
        if not isinstance(given, Mapping):
            raise doc.error("fields", "fields must map field paths to their specification")
        merged = {f.path: f for f in base.fields}
        merged.update({path: _field(path, spec, given) for path, spec in given.items()})
        changes["fields"] = tuple(merged.values())
    if "rules" in doc:
        given = doc["rules"]
        if not isinstance(given, list):
            raise doc.error(
                "rules", "rules must be a list such as ['features.end >= features.start']"
            )
        changes["rules"] = base.rules + tuple(_rule(item, given, i) for i, item in enumerate(given))
    return replace(base, **changes)


def parse(doc: Any) -> ContractSet:
    if not isinstance(doc, Mapping):
        raise ConfigFileError(getattr(doc, "source", "?"), None, "expected defaults and contracts")
    unknown = sorted(set(doc) - {"defaults", "contracts"})
    if unknown:
        raise doc.error(unknown[0], f"unknown key {unknown[0]!r} (expected defaults, contracts)")
    defaults = _settings(doc.get("defaults") or Mapping(), Contract(model="*", gate="*"))
    contracts: dict[str, Contract] = {}
    gates: dict[str, str] = {}
    given = doc.get("contracts") or Mapping()
    if not isinstance(given, Mapping):
        raise doc.error("contracts", "contracts must map model names to contracts")
    for model, spec in given.items():
        if not isinstance(spec, Mapping):
            raise given.error(model, f"the contract of {model} must be a mapping")
        gate = str(spec.get("gate") or model)
        # One gate, one writer: two contracts publishing the same gate would overwrite
        # each other's verdicts on the compacted topic.
        owner = gates.get(gate)
        if owner is not None or (gate != model and gate in given):
            raise spec.error("gate", f"gate {gate!r} is already the gate of {owner or gate}")
        gates[gate] = model
        settings = Mapping({k: v for k, v in spec.items() if k != "gate"})
        settings.source, settings.line, settings.lines = spec.source, spec.line, spec.lines
        contracts[model] = replace(_settings(settings, defaults), model=model, gate=gate)
    return ContractSet(defaults, contracts)


def load(path: str | Path) -> ContractSet:
    return parse(load_file(path))
