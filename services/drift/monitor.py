"""The monitor of one model version (or one segment of it): inputs and prediction against
the reference, performance against the labels, and which alerts are firing.

>>> import random
>>> from services.drift.config import MonitorSettings
>>> from services.drift.profile import build
>>> rng = random.Random(7)
>>> rows = [{"amount": rng.gauss(100, 10), "channel": rng.choice("ab")} for _ in range(5000)]
>>> reference = build("fraud", "3", rows, "doctest")
>>> monitor = ModelMonitor(("fraud", "3", None), MonitorSettings(), reference)
>>> def event(amount):
...     return {"num_features": {"amount": amount}, "cat_features": {"channel": rng.choice("ab")},
...             "prediction_label": None, "prediction_value": None, "score": None}
>>> fired = []
>>> for i in range(4000):
...     if monitor.observe(event(rng.gauss(100 if i < 2000 else 130, 10))):
...         fired += [(i, f.feature, f.statistic) for f in monitor.evaluate(i).findings]
>>> fired[0][1:], 2000 <= fired[0][0] < 2100    # found within 100 events of the shift
(('amount', 'adwin'), True)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .config import MonitorSettings
from .features import (
    PREDICTION,
    CategoricalFeature,
    NumericFeature,
    Result,
    evaluate_numeric,
    for_profile,
)
from .performance import Finding, PerformanceTracker
from .profile import CategoricalProfile, NumericProfile, Reference, build

MonitorKey = tuple[str, str, str | None]  # model, version, segment ("country=FR") or None
PREDICTION_FEATURE = "__prediction__"


@dataclass
class Evaluation:
    """One evaluation: the drift report's rows, and the alert changes it caused."""

    results: list[Result]
    share_drifted: float
    dataset_drift: bool
    unseen: dict[str, int]
    findings: list[Finding] = field(default_factory=list)


def prediction_of(record: dict[str, Any], profile: Any) -> Any:
    """What the prediction profile measures: the value (or score), or the label."""
    if isinstance(profile, NumericProfile):
        value = record.get("prediction_value")
        return record.get("score") if value is None else value
    return record.get("prediction_label")


class ModelMonitor:
    def __init__(
        self, key: MonitorKey, settings: MonitorSettings, reference: Reference | None
    ) -> None:
        self.key = key
        self.settings = settings
        self.reference: Reference | None = None
        self.building: list[dict[str, Any]] = []  # first events, while no reference exists
        self.performance = PerformanceTracker(settings, None)
        self.firing: dict[str, str] = {}  # feature (or "__dataset__") -> statistic that fired
        self.since_evaluation = 0
        self.unseen: Counter[str] = Counter()
        self.last_retrain_ms: int | None = None
        self.checked = -1  # the reference store's version when last compared
        # The reference the restored verdicts and performance window were made against:
        # when it arrives after the restore (the new owner of a partition may read the
        # references topic a moment after its changelog), they are kept, not reset.
        self.restored_reference_ms: int | None = None
        self.numeric: list[tuple[str, NumericFeature | CategoricalFeature]] = []
        self.categorical: list[tuple[str, NumericFeature | CategoricalFeature]] = []
        self.prediction: NumericFeature | CategoricalFeature | None = None
        if reference is not None:
            self.install(reference)

    # -- reference ----------------------------------------------------------------------

    def install(self, reference: Reference) -> None:
        """Start comparing against ``reference``: windows and verdicts start afresh, but
        for those restored against this very reference. The labelled performance window
        is about labels, not the reference: it starts afresh only when the reference
        brings a performance baseline of its own (a new bar to compare with)."""
        s = self.settings
        resumed = reference.created_at_ms == self.restored_reference_ms
        self.restored_reference_ms = None
        self.reference = reference
        self.building = []
        self.numeric = [(n, for_profile(n, p, s)) for n, p in reference.numeric.items()]
        self.categorical = [(n, for_profile(n, p, s)) for n, p in reference.categorical.items()]
        self.prediction = (
            for_profile(PREDICTION_FEATURE, reference.prediction, s, PREDICTION)
            if reference.prediction is not None
            else None
        )
        if not resumed:
            self.firing = {}
            if reference.performance is not None or not self.performance.pairs:
                self.performance = PerformanceTracker(s, reference.performance)
        self.since_evaluation = 0

    def _collect(self, record: dict[str, Any]) -> Reference | None:
        row: dict[str, Any] = dict(record["num_features"])
        row.update(record["cat_features"])
        row["__prediction__"] = (
            record["prediction_label"]
            if record["prediction_label"] is not None
            else record["prediction_value"]
            if record["prediction_value"] is not None
            else record["score"]
        )
        self.building.append(row)
        if len(self.building) < self.settings.reference_events:
            return None
        model, version, segment = self.key
        source = f"production: first {len(self.building)} events"
        if segment:
            source += f" of {segment}"
        reference = build(model, version, self.building, source, prediction_column="__prediction__")
        self.install(reference)
        return reference

    # -- events -------------------------------------------------------------------------

    def observe(self, record: dict[str, Any]) -> bool:
        """Take one prediction event; True when an evaluation is due.

        While there is no reference yet the event goes to the one being built instead;
        ``built`` then holds it once complete."""
        self.built = None
        if self.reference is None:
            self.built = self._collect(record)
            return False
        numbers, texts = record["num_features"], record["cat_features"]
        get = numbers.get
        matched = 0
        changed = False
        for name, feature in self.numeric:
            # NumericFeature.add, inlined: this loop runs 20 times per event.
            value = get(name)
            if value is None:
                quality = feature.quality
                if name in texts:
                    quality.wrong_type += 1
                else:
                    quality.missing += 1
                continue
            matched += 1
            if value - value != 0.0:  # NaN or infinite: kept out of the statistics
                feature.quality.invalid += 1
                continue
            feature.append(value)
            stream = feature.stream
            if stream is not None and stream.step(value):
                stream.signal()
                if feature.detected():
                    changed = True
        get = texts.get
        for name, feature in self.categorical:
            value = get(name)
            if value is None:
                if name in numbers:
                    feature.quality.wrong_type += 1
                    matched += 1  # present, in the wrong map: not unseen
                else:
                    feature.quality.missing += 1
                continue
            feature.add(value)
        if matched != len(numbers) or len(texts) > len(self.categorical):
            self._count_unseen(numbers, texts)
        if self.prediction is not None:
            value = prediction_of(record, self.reference.prediction)
            if value is None:
                self.prediction.quality.missing += 1
            elif isinstance(self.prediction, NumericFeature):
                self.prediction.add(float(value))
            else:
                self.prediction.add(str(value))
        self.since_evaluation += 1
        # A streaming detector that fired cuts the wait for the next step short.
        return changed or self.since_evaluation >= self.settings.step

    def _count_unseen(self, numbers: dict[str, float], texts: dict[str, str]) -> None:
        known = self.reference.numeric.keys() | self.reference.categorical.keys()
        for name in (*numbers, *texts):
            if name not in known:
                self.unseen[name] += 1

    def evaluate(self, event_time_ms: int) -> Evaluation:
        self.since_evaluation = 0
        s = self.settings
        features = [f for _, f in self.numeric] + [f for _, f in self.categorical]
        numeric = [f for _, f in self.numeric if len(f.values) >= s.min_samples]
        results = evaluate_numeric(numeric)  # type: ignore[arg-type]
        for _, feature in self.categorical:
            if len(feature.values) >= s.min_samples:
                results.append(feature.evaluate())
        prediction = None
        if self.prediction is not None and len(self.prediction.values) >= s.min_samples:
            prediction = self.prediction.evaluate()
            results.append(prediction)
        inputs = [r for r in results if r.kind != PREDICTION]
        drifted = sum(r.drifted for r in inputs)
        share = drifted / len(inputs) if inputs else 0.0
        dataset = bool(inputs) and len(inputs) == len(features) and share >= s.dataset_share
        unseen, self.unseen = dict(self.unseen), Counter()
        evaluation = Evaluation(results, share, dataset, unseen)
        for result in results:
            name = "PredictionDrift" if result.kind == PREDICTION else "FeatureDrift"
            self._verdict(evaluation, name, result.feature, result)
        self._dataset_verdict(evaluation, dataset, share)
        return evaluation

    def _verdict(
        self, evaluation: Evaluation, alertname: str, feature: str, result: Result
    ) -> None:
        firing = self.firing.get(feature)
        if firing is None and result.drifted:
            self.firing[feature] = result.statistic
            value, threshold = self._measure(result)
            evaluation.findings.append(
                Finding(alertname, "firing", result.statistic, value, threshold, feature)
            )
        elif firing is not None and result.clear:
            del self.firing[feature]
            value, threshold = self._measure(result, firing)
            evaluation.findings.append(
                Finding(alertname, "resolved", firing, value, threshold, feature)
            )

    def _measure(self, result: Result, statistic: str | None = None) -> tuple[float, float]:
        s = self.settings
        statistic = statistic or result.statistic
        if statistic == "distance":
            return result.distance, s.distance
        if statistic == "new_category":
            return float(result.new_categories), s.new_category_share
        return result.psi, s.psi_alert  # psi, and adwin (reported with the window's PSI)

    def _dataset_verdict(self, evaluation: Evaluation, dataset: bool, share: float) -> None:
        key = "__dataset__"
        s = self.settings
        if dataset and key not in self.firing:
            self.firing[key] = "share_drifted"
            evaluation.findings.append(
                Finding("DatasetDrift", "firing", "share_drifted", share, s.dataset_share)
            )
        elif key in self.firing and share < s.dataset_share / 2:
            del self.firing[key]
            evaluation.findings.append(
                Finding("DatasetDrift", "resolved", "share_drifted", share, s.dataset_share)
            )

    # -- labels -------------------------------------------------------------------------

    def observe_outcome(self, predicted: Any, actual: Any) -> list[Finding]:
        return self.performance.observe(predicted, actual)

    # -- state --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "firing": self.firing,
            "performance": self.performance.state(),
            "last_retrain_ms": self.last_retrain_ms,
            "reference_ms": self.reference.created_at_ms if self.reference else None,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.firing = dict(data["firing"])
        self.performance.load(data["performance"])
        self.last_retrain_ms = data["last_retrain_ms"]
        if self.reference is None:
            self.restored_reference_ms = data.get("reference_ms")


__all__ = ["CategoricalProfile", "Evaluation", "ModelMonitor", "MonitorKey"]
