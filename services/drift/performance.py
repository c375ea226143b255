"""Model performance from delayed labels: a window of (prediction, truth) pairs against
the reference's performance, and a change detector on the per-event error.

>>> from services.drift.config import MonitorSettings
>>> tracker = PerformanceTracker(MonitorSettings(label_window=100, min_labels=50), None)
>>> for i in range(100):
...     _ = tracker.observe(predicted="yes", actual="yes" if i % 10 else "no")
>>> round(tracker.baseline.accuracy, 2)          # the first window becomes the bar
0.9
>>> findings = [f for _ in range(60) for f in tracker.observe("yes", "no")]
>>> [(f.alertname, f.statistic, f.status) for f in findings]
[('PerformanceDegraded', 'accuracy', 'firing'), ('ConceptDrift', 'adwin', 'firing')]
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict
from typing import Any

from .config import MonitorSettings
from .detectors import error_detector
from .profile import Performance, classification_performance, regression_performance


class Finding:
    """An alert state change found by a monitor."""

    __slots__ = ("alertname", "feature", "statistic", "status", "threshold", "value")

    def __init__(
        self,
        alertname: str,
        status: str,
        statistic: str,
        value: float | None,
        threshold: float | None,
        feature: str | None = None,
    ) -> None:
        self.alertname, self.status, self.statistic = alertname, status, statistic
        self.value, self.threshold, self.feature = value, threshold, feature

    def __repr__(self) -> str:
        return f"Finding({self.alertname}, {self.status}, {self.feature}, {self.statistic})"


class PerformanceTracker:
    def __init__(self, settings: MonitorSettings, reference: Performance | None) -> None:
        self.settings = settings
        self.baseline = reference  # None until the reference or the first window sets it
        self.pairs: deque[tuple[Any, Any]] = deque(maxlen=settings.label_window)
        self.detector = error_detector(settings.concept_detector)
        # DDM and HDDM model a 0/1 error rate; regression's absolute errors need ADWIN.
        self.value_detector = error_detector("adwin")
        self.labelled = 0
        self.degraded = False
        self.concept_firing = False
        self.since_concept = 0
        self.current: Performance | None = None

    @property
    def task(self) -> str | None:
        if self.baseline is not None:
            return self.baseline.task
        if not self.pairs:
            return None
        predicted, _ = self.pairs[0]
        return "regression" if isinstance(predicted, float) else "classification"

    def measure(self) -> Performance | None:
        if len(self.pairs) < self.settings.min_labels:
            return None
        if self.task == "regression":
            return regression_performance(list(self.pairs))
        return classification_performance(list(self.pairs), self.settings.positive_label)

    def observe(self, predicted: Any, actual: Any) -> list[Finding]:
        """One labelled prediction; returns the alert changes it causes."""
        self.pairs.append((predicted, actual))
        self.labelled += 1
        if isinstance(predicted, float):
            detector, name = self.value_detector, "adwin"
            detector.update(abs(predicted - actual))
        else:
            detector, name = self.detector, self.settings.concept_detector
            detector.update(predicted != actual)
        findings = []
        self.since_concept += 1
        if detector.drift_detected and not self.concept_firing:
            self.concept_firing, self.since_concept = True, 0
            findings.append(Finding("ConceptDrift", "firing", name, None, None))
        elif (
            self.concept_firing
            and self.since_concept >= self.settings.label_window
            and not self.degraded
        ):
            # A full window of labels without a new detection, and performance is fine.
            self.concept_firing = False
            findings.append(Finding("ConceptDrift", "resolved", name, None, None))
        # Performance is re-measured every tenth of a window, not on every label.
        if self.labelled % max(1, self.settings.label_window // 10) == 0:
            judged = self._judge()
            if judged is not None:
                findings.append(judged)
        return findings

    def _judge(self) -> Finding | None:
        current = self.measure()
        if current is None:
            return None
        self.current = current
        if self.baseline is None:
            if len(self.pairs) >= self.settings.label_window:
                self.baseline = current  # production's first full window is the bar
            return None
        s = self.settings
        if current.task == "regression":
            limit = self.baseline.mae * (1 + s.error_rise)
            bad = current.mae > limit
            good = current.mae <= self.baseline.mae * (1 + s.error_rise / 2)
            value, statistic = current.mae, "mae"
        else:
            limit = self.baseline.accuracy - s.accuracy_drop
            bad = current.accuracy < limit
            good = current.accuracy >= self.baseline.accuracy - s.accuracy_drop / 2
            value, statistic = current.accuracy, "accuracy"
        if bad and not self.degraded:
            self.degraded = True
            return Finding("PerformanceDegraded", "firing", statistic, value, limit)
        if self.degraded and good:
            self.degraded = False
            return Finding("PerformanceDegraded", "resolved", statistic, value, limit)
        return None

    def state(self) -> dict[str, Any]:
        return {
            "baseline": asdict(self.baseline) if self.baseline else None,
            "pairs": list(self.pairs),
            "labelled": self.labelled,
            "degraded": self.degraded,
            "concept": self.concept_firing,
        }

    def load(self, data: dict[str, Any]) -> None:
        if data.get("baseline"):
            self.baseline = Performance(**data["baseline"])
        self.pairs.extend(tuple(p) for p in data["pairs"])
        self.labelled = data["labelled"]
        self.degraded = data["degraded"]
        self.concept_firing = data["concept"]
