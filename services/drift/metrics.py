"""drift metrics. Per-feature series are capped (WK_DRIFT_MAX_METRIC_SERIES): a model with
thousands of features, or a client inventing feature names, must not flood Prometheus."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PSI = Gauge("wk_drift_psi", "PSI of the last evaluation.", ["model", "version", "feature"])
DISTANCE = Gauge(
    "wk_drift_distance",
    "Jensen-Shannon distance of the last evaluation.",
    ["model", "version", "feature"],
)
DRIFTED = Gauge(
    "wk_drift_feature_drifted",
    "1 while the feature's drift alert fires.",
    ["model", "version", "feature"],
)
QUALITY = Counter(
    "wk_drift_feature_values_total",
    "Feature values kept out of the statistics, by reason.",
    ["model", "version", "feature", "reason"],
)
UNSEEN = Counter(
    "wk_drift_unseen_features_total",
    "Feature values whose name is not in the reference.",
    ["model", "version"],
)
SHARE = Gauge(
    "wk_drift_share_drifted",
    "Share of features drifted in the last evaluation.",
    ["model", "version"],
)
EVALUATIONS = Counter("wk_drift_evaluations_total", "Windows evaluated.", ["model", "version"])
LABELS = Counter(
    "wk_drift_labels_total",
    "Labels and predictions by join outcome: joined, unknown (no pending "
    "prediction: never seen or expired), expired and evicted predictions.",
    ["outcome"],
)
PENDING = Gauge(
    "wk_drift_pending_predictions", "Predictions waiting for their label.", ["partition"]
)
PERFORMANCE = Gauge(
    "wk_drift_performance", "Windowed performance from labels.", ["model", "version", "metric"]
)
ALERTS = Counter("wk_drift_alerts_total", "Alert state changes published.", ["alertname", "status"])
RETRAIN = Counter(
    "wk_drift_retrain_requests_total", "Retrain requests published.", ["model", "reason"]
)
REFERENCES = Counter("wk_drift_references_total", "References installed, by origin.", ["origin"])
CAPPED = Counter(
    "wk_drift_metric_series_capped_total", "Per-feature metric updates dropped by the series cap."
)


class SeriesCap:
    """Admits the first ``limit`` label sets; counts every update beyond them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[tuple[str, ...]] = set()

    def admit(self, labels: tuple[str, ...]) -> bool:
        if labels in self.seen:
            return True
        if len(self.seen) < self.limit:
            self.seen.add(labels)
            return True
        CAPPED.inc()
        return False
