"""fairness metrics. Series are capped (WK_FAIRNESS_MAX_SERIES per partition, max_groups per
attribute), so clients inventing versions or group names cannot flood Prometheus."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SERIES = ["model", "version", "attribute"]

SELECTION_RATE = Gauge(
    "wk_fairness_selection_rate",
    "Share of favourable decisions per group in the last closed window.",
    [*SERIES, "group"],
)
TPR = Gauge("wk_fairness_true_positive_rate", "Per group, from joined labels.", [*SERIES, "group"])
FPR = Gauge("wk_fairness_false_positive_rate", "Per group, from joined labels.", [*SERIES, "group"])
MEASURE = Gauge(
    "wk_fairness_measure",
    "Last value of a measure (disparate_impact, parity_difference, equal_opportunity, "
    "equalized_odds) and its confidence bounds (bound: value, low, high).",
    [*SERIES, "measure", "bound"],
)
VERDICTS = Counter(
    "wk_fairness_verdicts_total",
    "Measures judged per closed window: breached, ok, or insufficient (too few per group).",
    ["model", "measure", "verdict"],
)
WINDOWS = Counter("wk_fairness_windows_total", "Windows closed and reported.", ["model"])
EVENTS = Counter(
    "wk_fairness_events_total",
    "Predictions by outcome: counted, undecided (no label or score to judge), "
    "unattributed (no protected attribute), unmonitored (model not configured), capped "
    "(beyond WK_FAIRNESS_MAX_SERIES), late (counted in the current window).",
    ["outcome"],
)
LABELS = Counter(
    "wk_fairness_labels_total",
    "Labels and pending predictions by join outcome: joined, unknown (no pending "
    "prediction: never seen, unmonitored, or expired), mismatched (no label nor value), "
    "expired and evicted predictions.",
    ["outcome"],
)
PENDING = Gauge(
    "wk_fairness_pending_predictions", "Predictions waiting for their label.", ["partition"]
)
ALERTS = Counter(
    "wk_fairness_alerts_total", "Alert state changes published.", ["alertname", "status"]
)
