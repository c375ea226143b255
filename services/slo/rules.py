"""Alert rules: what the YAML file says, validated, as plain objects.

Three kinds, all evaluated per series (model x version x variant x region):

``threshold``  ``expr: latency_p99_ms > 300`` on a view (the window, or a rolling 1m/5m
               ...), breached for ``for`` consecutive windows (or ``for: 2m``: that long,
               rounded up to whole windows);
``baseline``   ``expr: latency_p95_ms > 1.5 * baseline(1h)``: the figure against the same
               figure over the series' own trailing period;
``burn_rate``  multi-window SLO burn rate, as in the Google SRE workbook: the error budget
               is spent ``factor`` times too fast over both a long and a short window.

>>> rules = parse(load_text('''
... rules:
...   - alert: HighLatencyP99
...     expr: latency_p99_ms > 300
...     for: 2
...   - alert: ErrorBudgetBurn
...     slo: {objective: 99.9%, bad: errors}
...     burn_rate:
...       - {long: 1h, short: 5m, factor: 14.4, severity: page}
... ''', "rules.yaml"), window_ms=10_000)
>>> [(r.alert, r.kind) for r in rules.rules]
[('HighLatencyP99', 'threshold'), ('ErrorBudgetBurn', 'burn_rate')]
>>> rules.rules[1].windows[0].long_ms, round(rules.rules[1].budget, 6)
(3600000, 0.001)
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchkeeper.yamlconf import ConfigFileError, Mapping, load_file, load_text, parse_duration

from .aggregate import FIGURES

__all__ = ["ConfigFileError", "Rule", "RuleSet", "load", "load_text", "parse"]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_NUMBER = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?%?"
_THRESHOLD = re.compile(rf"^\s*(\w+)\s*(>=|<=|>|<)\s*({_NUMBER})\s*$")
_BASELINE = re.compile(rf"^\s*(\w+)\s*(>=|<=|>|<)\s*({_NUMBER})\s*\*\s*baseline\(\s*(\w+)\s*\)\s*$")
SERIES_LABELS = ("model", "version", "variant", "region")
_RULE_KEYS = {
    "alert",
    "expr",
    "for",
    "view",
    "severity",
    "min_count",
    "match",
    "labels",
    "annotations",
    "slo",
    "burn_rate",
}


def duration_ms(text: Any) -> int:
    """A Prometheus duration in milliseconds.

    >>> duration_ms("1h"), duration_ms("250ms"), duration_ms("1m30s")
    (3600000, 250, 90000)
    """
    return int(parse_duration(str(text)) * 1000)


def number(text: Any) -> float:
    """``99.9%`` -> 0.999; plain numbers unchanged."""
    raw = str(text).strip()
    if raw.endswith("%"):
        return float(raw[:-1]) / 100.0
    return float(raw)


@dataclass(frozen=True)
class BurnWindow:
    long_ms: int
    short_ms: int
    factor: float
    severity: str


@dataclass(frozen=True)
class Rule:
    alert: str
    kind: str  # threshold | baseline | burn_rate
    line: int
    figure: str = ""
    op: str = ">"
    threshold: float = 0.0  # a value, or the ratio for baseline rules
    for_windows: int = 1
    view_ms: int = 0  # 0: the window itself
    baseline_ms: int = 0
    min_count: int = 20
    severity: str = "warning"
    match: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    bad: str = "errors"  # for burn_rate: errors, or slow:<index into RuleSet.slow_thresholds>
    budget: float = 0.0  # 1 - objective
    windows: tuple[BurnWindow, ...] = ()

    def compare(self, value: float, reference: float) -> bool:
        return OPERATORS[self.op](value, reference)

    def applies_to(self, series: dict[str, str]) -> bool:
        return all(series.get(k) == v for k, v in self.match.items())


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    slow_thresholds: tuple[float, ...]  # latency thresholds the windows must count
    source: str

    def horizon_ms(self, window_ms: int) -> int:
        """How much closed-window history the rules need."""
        needed = [window_ms]
        for rule in self.rules:
            needed += [rule.view_ms, rule.baseline_ms + window_ms]
            needed += [w.long_ms for w in rule.windows]
        return max(needed)


def _text_map(doc: Mapping, key: str) -> dict[str, str]:
    value = doc.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()
    ):
        raise doc.error(key, f"{key} must be a mapping of names to strings")
    return {k: str(v) for k, v in value.items()}


def _check_template(doc: Mapping, key: str, text: str) -> None:
    sample = {
        "alert": "A",
        "model": "m",
        "version": "v",
        "variant": "default",
        "region": "",
        "value": 1.0,
        "threshold": 1.0,
        "view": "10s",
        "severity": "page",
    }
    try:
        text.format_map(sample)
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise doc.error(
            key,
            f"annotation template {text!r} is invalid: {exc!r}; known "
            f"names: {', '.join(sorted(sample))}",
        ) from None


def _parse_rule(doc: Any, defaults: Mapping, window_ms: int, slow: list[float]) -> Rule:
    if not isinstance(doc, Mapping):
        raise ConfigFileError(
            defaults.source, getattr(doc, "line", None), "each rule must be a mapping"
        )
    unknown = sorted(set(doc) - _RULE_KEYS)
    if unknown:
        raise doc.error(
            unknown[0], f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_RULE_KEYS))})"
        )
    alert = doc.get("alert")
    if not isinstance(alert, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", alert):
        raise doc.error(
            "alert" if "alert" in doc else None,
            "every rule needs an alert name (letters, digits, _)",
        )
    merged = {**defaults, **doc}

    def windows_for() -> int:
        # ``for: 3`` counts windows; ``for: 2m`` is a time (ModelDegraded's degraded_for):
        # breached for at least that long, rounded up to whole windows.
        value = merged.get("for", 1)
        if isinstance(value, str):
            try:
                span_ms = duration_ms(value)
            except ValueError:
                span_ms = 0
            if span_ms <= 0:
                raise (doc if "for" in doc else defaults).error(
                    "for", f"for must be a whole number >= 1 or a duration (2m), got {value!r}"
                )
            return max(1, -(-span_ms // window_ms))
        return whole("for", 1, 1)

    def whole(key: str, default: int, low: int) -> int:
        value = merged.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise (doc if key in doc else defaults).error(
                key, f"{key} must be a whole number >= {low}, got {value!r}"
            )
        return value

    labels = {**_text_map(defaults, "labels"), **_text_map(doc, "labels")}
    annotations = {**_text_map(defaults, "annotations"), **_text_map(doc, "annotations")}
    for key, text in annotations.items():
        _check_template(doc if key in doc.get("annotations", {}) else defaults, "annotations", text)
    match = _text_map(doc, "match")
    bad_keys = sorted(set(match) - set(SERIES_LABELS))
    if bad_keys:
        raise doc.error(
            "match", f"match can select on {', '.join(SERIES_LABELS)}, not {bad_keys[0]!r}"
        )
    severity = str(merged.get("severity", "warning"))
    common = dict(
        alert=alert,
        line=doc.line,
        min_count=whole("min_count", 20, 1),
        severity=severity,
        match=match,
        labels=labels,
        annotations=annotations,
    )

    if "burn_rate" in doc or "slo" in doc:
        return _parse_burn(doc, common, slow)
    if "expr" not in doc:
        raise doc.error(None, f"rule {alert} needs an expr (or slo + burn_rate)")
    expr = str(doc["expr"])
    view_ms = 0
    if "view" in merged and str(merged["view"]) not in ("window", "0s"):
        try:
            view_ms = duration_ms(merged["view"])
        except ValueError as exc:
            raise doc.error("view", str(exc)) from None
        if view_ms % window_ms:
            raise doc.error(
                "view",
                f"view {merged['view']} is not a whole number of {window_ms // 1000}s windows",
            )
    baseline = _BASELINE.match(expr)
    plain = _THRESHOLD.match(expr)
    if not (baseline or plain):
        raise doc.error(
            "expr",
            f"cannot read expr {expr!r}: write '<figure> <op> <number>' "
            "or '<figure> <op> <number> * baseline(<duration>)', op one of "
            "> >= < <=",
        )
    figure, op, value = (baseline or plain).group(1, 2, 3)  # type: ignore[union-attr]
    if figure not in FIGURES:
        raise doc.error("expr", f"unknown figure {figure!r}; known: {', '.join(FIGURES)}")
    if baseline:
        try:
            baseline_ms = duration_ms(baseline.group(4))
        except ValueError as exc:
            raise doc.error("expr", str(exc)) from None
        return Rule(
            kind="baseline",
            figure=figure,
            op=op,
            threshold=number(value),
            view_ms=view_ms,
            baseline_ms=baseline_ms,
            for_windows=windows_for(),
            **common,
        )
    return Rule(
        kind="threshold",
        figure=figure,
        op=op,
        threshold=number(value),
        view_ms=view_ms,
        for_windows=windows_for(),
        **common,
    )


def _parse_burn(doc: Mapping, common: dict[str, Any], slow: list[float]) -> Rule:
    slo = doc.get("slo")
    if not isinstance(slo, Mapping) or "objective" not in slo:
        raise doc.error("slo", "a burn_rate rule needs slo: {objective: 99.9%, bad: errors}")
    try:
        objective = number(slo["objective"])
    except ValueError:
        raise slo.error("objective", f"objective {slo['objective']!r} is not a number") from None
    if not 0 < objective < 1:
        raise slo.error("objective", f"objective must be between 0 and 100 %, got {objective}")
    bad_text = str(slo.get("bad", "errors")).strip()
    if bad_text == "errors":
        bad = "errors"
    else:
        match = re.match(rf"^latency_ms\s*>\s*({_NUMBER})$", bad_text)
        if not match:
            raise slo.error("bad", "bad must be 'errors' or 'latency_ms > <milliseconds>'")
        threshold = float(match.group(1))
        if threshold not in slow:
            slow.append(threshold)
        bad = f"slow:{slow.index(threshold)}"
    entries = doc.get("burn_rate")
    if not isinstance(entries, list) or not entries:
        raise doc.error("burn_rate", "burn_rate must list {long, short, factor, severity}")
    windows = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not {"long", "short", "factor"} <= set(entry):
            raise doc.error("burn_rate", "each burn_rate entry needs long, short and factor")
        try:
            long_ms, short_ms = duration_ms(entry["long"]), duration_ms(entry["short"])
            factor = float(entry["factor"])
        except ValueError as exc:
            raise entry.error(None, str(exc)) from None
        if short_ms >= long_ms:
            raise entry.error("short", "the short window must be shorter than the long one")
        windows.append(
            BurnWindow(long_ms, short_ms, factor, str(entry.get("severity", common["severity"])))
        )
    common = {**common, "severity": windows[0].severity}
    return Rule(kind="burn_rate", bad=bad, budget=1.0 - objective, windows=tuple(windows), **common)


def parse(doc: Any, window_ms: int) -> RuleSet:
    if not isinstance(doc, Mapping):
        raise ConfigFileError(
            getattr(doc, "source", "rules"),
            None,
            "the rule file must be a mapping with a 'rules' list",
        )
    unknown = sorted(set(doc) - {"defaults", "rules"})
    if unknown:
        raise doc.error(unknown[0], f"unknown key {unknown[0]!r} (expected defaults, rules)")
    defaults = doc.get("defaults", Mapping())
    if not isinstance(defaults, Mapping):
        raise doc.error("defaults", "defaults must be a mapping")
    defaults.source = doc.source
    rules_doc = doc.get("rules")
    if not isinstance(rules_doc, list):
        raise doc.error("rules" if "rules" in doc else None, "rules must be a list")
    slow: list[float] = []
    rules = tuple(_parse_rule(r, defaults, window_ms, slow) for r in rules_doc)
    seen: dict[tuple[str, str], int] = {}
    for rule in rules:
        key = (rule.alert, repr(sorted(rule.match.items())))
        if key in seen:
            raise ConfigFileError(
                doc.source,
                rule.line,
                f"rule {rule.alert} repeats the rule "
                f"on line {seen[key]} (same alert name and match)",
            )
        seen[key] = rule.line
    return RuleSet(rules, tuple(slow), doc.source)


def load(path: str | Path, window_ms: int) -> RuleSet:
    return parse(load_file(path), window_ms)
