"""Validation thresholds, after MLflow's ``MetricThreshold``: an absolute bound on the
candidate (``min``/``max``) and a bound on its change from the champion
(``min_delta``/``max_delta``: candidate minus champion).

From the command line (``--min auc=0.8 --min-delta auc=0.01 --max-delta log_loss=0``) or
a YAML file of the same shape, whose mistakes name ``file:line``:

>>> t = from_pairs(min=["auc=0.8"], min_delta=["auc=0.01"], max_delta=["log_loss=0"])
>>> [(x.metric, x.kind, x.bound) for x in t]
[('auc', 'min', 0.8), ('auc', 'min_delta', 0.01), ('log_loss', 'max_delta', 0.0)]
>>> t[1].holds(candidate=0.915, champion=0.91), t[2].holds(candidate=0.35, champion=0.34)
(False, False)
>>> t[1].label
'auc - champion >= 0.01'
>>> from_text("auc: {min: 0.8, minimum_delta: 1}\\n", "gates.yaml")
Traceback (most recent call last):
...
watchkeeper.gates.report.UsageError: gates.yaml:1: auc: unknown bound minimum_delta (use min, ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..yamlconf import ConfigFileError, Mapping, load_file, load_text
from .metrics import HIGHER_IS_BETTER
from .report import UsageError

KINDS = ("min", "max", "min_delta", "max_delta")


@dataclass(frozen=True)
class Threshold:
    metric: str
    kind: str
    bound: float

    @property
    def relative(self) -> bool:
        return self.kind.endswith("_delta")

    @property
    def label(self) -> str:
        left = f"{self.metric} - champion" if self.relative else self.metric
        return f"{left} {'>=' if self.kind.startswith('min') else '<='} {self.bound:g}"

    def holds(self, candidate: float, champion: float | None = None) -> bool:
        value = candidate - champion if self.relative and champion is not None else candidate
        return value >= self.bound if self.kind.startswith("min") else value <= self.bound


def _check_metric(metric: str, where: str) -> None:
    if metric not in HIGHER_IS_BETTER:
        known = ", ".join(HIGHER_IS_BETTER)
        raise UsageError(f"{where}: unknown metric {metric!r} (known: {known})")


def from_pairs(**given: list[str] | None) -> list[Threshold]:
    """``min=["auc=0.8"], max_delta=["log_loss=0"]`` ... as the options give them."""
    found = []
    for kind in KINDS:
        for item in given.get(kind) or []:
            option = "--" + kind.replace("_", "-")
            metric, sep, text = item.partition("=")
            if not sep or not metric:
                raise UsageError(f"{option} {item!r}: expected metric=number")
            _check_metric(metric, f"{option} {item!r}")
            try:
                found.append(Threshold(metric, kind, float(text)))
            except ValueError:
                raise UsageError(f"{option} {item!r}: {text!r} is not a number") from None
    return found


def from_document(doc: object) -> list[Threshold]:
    if not isinstance(doc, Mapping):
        raise UsageError("a thresholds file is a mapping: metric -> {min, max, min_delta, ...}")
    found = []
    for metric, bounds in doc.items():
        if metric not in HIGHER_IS_BETTER:
            raise _error(doc, metric, f"unknown metric {metric!r} (known: "
                                      f"{', '.join(HIGHER_IS_BETTER)})")  # fmt: skip
        if not isinstance(bounds, Mapping) or not bounds:
            raise _error(doc, metric, f"{metric}: expected a mapping of bounds, e.g. {{min: 0.8}}")
        for kind, bound in bounds.items():
            if kind not in KINDS:
                use = ", ".join(KINDS)
                raise _error(bounds, kind, f"{metric}: unknown bound {kind} (use {use})")
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise _error(bounds, kind, f"{metric}.{kind}: {bound!r} is not a number")
            found.append(Threshold(metric, kind, float(bound)))
    return found


def _error(doc: Mapping, key: str, reason: str) -> UsageError:
    return UsageError(str(doc.error(key, reason)))


def from_text(text: str, source: str) -> list[Threshold]:
    try:
        return from_document(load_text(text, source))
    except ConfigFileError as exc:
        raise UsageError(str(exc)) from None


def from_file(path: str | Path) -> list[Threshold]:
    try:
        doc = load_file(path)
    except ConfigFileError as exc:
        raise UsageError(str(exc)) from None
    if not isinstance(doc, Mapping):
        raise UsageError(f"{path}: expected a mapping: metric -> {{min, max, min_delta, ...}}")
    return from_document(doc)
