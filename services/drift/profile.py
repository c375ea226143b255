"""Reference profiles: what a model version's inputs and outputs looked like when it was
trained (from a CSV or Parquet file) or when it went live (its first N events).

A profile is small (bin edges and proportions, 101 quantiles, category shares) and plain
JSON, so it travels on a compacted topic and any consumer can read it.

>>> import random
>>> rng = random.Random(3)
>>> rows = [{"amount": rng.gauss(100, 15), "channel": rng.choice(["web", "app"])}
...         for _ in range(2000)]
>>> ref = build("fraud", "3", rows, source="doctest")
>>> sorted(ref.numeric), sorted(ref.categorical)
(['amount'], ['channel'])
>>> len(ref.numeric["amount"].edges), round(ref.numeric["amount"].std)
(9, 15)
>>> sorted(ref.categorical["channel"].shares)
['app', 'web']
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .statistics import QUANTILE_GRID

BINS = 10
TOP_CATEGORIES = 50
OTHER = "__other__"
FORMAT = 1

# The compacted topic references live on (``reference_store``), and the key of each.
TOPIC = "drift-references"


def key_of(model: str, version: str, segment: str | None = None) -> bytes:
    """``model NUL version`` (``NUL segment`` for a segment's production baseline)."""
    key = f"{model}\x00{version}"
    return (key + f"\x00{segment}" if segment else key).encode()


@dataclass
class NumericProfile:
    edges: list[float]  # interior bin edges (deciles of the reference)
    proportions: list[float]  # share of reference values per bin
    quantiles: list[float]  # on QUANTILE_GRID, for the Wasserstein distance
    mean: float
    std: float
    count: int
    missing_rate: float  # NaN or absent in the reference

    @classmethod
    def of(cls, values: Iterable[float], missing: int = 0) -> NumericProfile | None:
        array = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
        if len(array) == 0:
            return None
        edges = np.unique(np.quantile(array, np.linspace(0.1, 0.9, BINS - 1)))
        counts = np.bincount(np.searchsorted(edges, array, side="right"), minlength=len(edges) + 1)
        return cls(
            edges=edges.tolist(),
            proportions=(counts / counts.sum()).tolist(),
            quantiles=np.quantile(array, QUANTILE_GRID).tolist(),
            mean=float(array.mean()),
            std=float(array.std()),
            count=len(array),
            missing_rate=missing / (len(array) + missing),
        )


@dataclass
class CategoricalProfile:
    shares: dict[str, float]  # the most frequent categories
    other: float  # share of every category beyond them
    count: int
    missing_rate: float

    @classmethod
    def of(cls, values: Iterable[str], missing: int = 0) -> CategoricalProfile | None:
        counts = Counter(values)
        total = sum(counts.values())
        if total == 0:
            return None
        top = dict(counts.most_common(TOP_CATEGORIES))
        return cls(
            shares={k: v / total for k, v in top.items()},
            other=(total - sum(top.values())) / total,
            count=total,
            missing_rate=missing / (total + missing),
        )


@dataclass
class Performance:
    """How good the model was on the reference: the bar production is held to."""

    task: str  # classification | regression
    count: int
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    positive_label: str | None = None
    mae: float | None = None
    rmse: float | None = None


@dataclass
class Reference:
    model: str
    version: str
    source: str
    rows: int
    created_at_ms: int
    numeric: dict[str, NumericProfile] = field(default_factory=dict)
    categorical: dict[str, CategoricalProfile] = field(default_factory=dict)
    prediction: NumericProfile | CategoricalProfile | None = None
    performance: Performance | None = None

    def to_json(self) -> bytes:
        data = asdict(self)
        data["format"] = FORMAT
        if self.prediction is not None:
            data["prediction"]["kind"] = (
                "numeric" if isinstance(self.prediction, NumericProfile) else "categorical"
            )
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Reference:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise ValueError(f"reference format {data.get('format')!r} is not {FORMAT}")
        prediction = data.get("prediction")
        if prediction is not None:
            kind = prediction.pop("kind")
            prediction = (NumericProfile if kind == "numeric" else CategoricalProfile)(**prediction)
        performance = data.get("performance")
        return cls(
            model=data["model"],
            version=data["version"],
            source=data["source"],
            rows=data["rows"],
            created_at_ms=data["created_at_ms"],
            numeric={k: NumericProfile(**v) for k, v in data["numeric"].items()},
            categorical={k: CategoricalProfile(**v) for k, v in data["categorical"].items()},
            prediction=prediction,
            performance=Performance(**performance) if performance else None,
        )


def classification_performance(pairs: list[tuple[str, str]], positive: str | None) -> Performance:
    """Accuracy, and precision / recall / F1 of ``positive`` (predicted, true) pairs."""
    correct = sum(p == t for p, t in pairs)
    perf = Performance(
        "classification", len(pairs), accuracy=correct / len(pairs), positive_label=positive
    )
    if positive is not None:
        tp = sum(p == positive and t == positive for p, t in pairs)
        fp = sum(p == positive and t != positive for p, t in pairs)
        fn = sum(p != positive and t == positive for p, t in pairs)
        perf.precision = tp / (tp + fp) if tp + fp else 0.0
        perf.recall = tp / (tp + fn) if tp + fn else 0.0
        total = perf.precision + perf.recall
        perf.f1 = 2 * perf.precision * perf.recall / total if total else 0.0
    return perf


def regression_performance(pairs: list[tuple[float, float]]) -> Performance:
    errors = np.asarray([p - t for p, t in pairs], dtype=float)
    return Performance(
        "regression",
        len(pairs),
        mae=float(np.mean(np.abs(errors))),
        rmse=float(np.sqrt(np.mean(errors**2))),
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def build(
    model: str,
    version: str,
    rows: Iterable[Mapping[str, Any]],
    source: str,
    prediction_column: str | None = None,
    label_column: str | None = None,
    positive_label: str | None = None,
    categorical: Iterable[str] = (),
) -> Reference:
    """Profile every column of ``rows``: numbers are numeric features, strings categorical
    (unless named in ``categorical``); ``prediction_column`` and ``label_column`` become the
    prediction profile and the reference performance."""
    forced = set(categorical)
    numbers: dict[str, list[float]] = {}
    texts: dict[str, list[str]] = {}
    missing: Counter[str] = Counter()
    predictions: list[Any] = []
    labels: list[Any] = []
    count = 0
    for row in rows:
        count += 1
        for column, value in row.items():
            if column == label_column:
                labels.append(value)
                continue
            if column == prediction_column:
                predictions.append(value)
                continue
            if value is None or (isinstance(value, float) and math.isnan(value)):
                missing[column] += 1
            elif _is_number(value) and column not in forced:
                numbers.setdefault(column, []).append(float(value))
            else:
                texts.setdefault(column, []).append(str(value))
    reference = Reference(model, version, source, count, int(time.time() * 1000))
    for column, values in numbers.items():
        profile = NumericProfile.of(values, missing[column])
        if profile is not None:
            reference.numeric[column] = profile
    for column, values in texts.items():
        profile = CategoricalProfile.of(values, missing[column])
        if profile is not None:
            reference.categorical[column] = profile
    valid = [p for p in predictions if p is not None]
    if valid:
        if all(_is_number(p) for p in valid):
            reference.prediction = NumericProfile.of(float(p) for p in valid)
        else:
            reference.prediction = CategoricalProfile.of(str(p) for p in valid)
    pairs = [
        (p, t) for p, t in zip(predictions, labels, strict=False) if p is not None and t is not None
    ]
    if pairs:
        if all(_is_number(p) and _is_number(t) for p, t in pairs):
            reference.performance = regression_performance([(float(p), float(t)) for p, t in pairs])
        else:
            reference.performance = classification_performance(
                [(str(p), str(t)) for p, t in pairs], positive_label
            )
    return reference
