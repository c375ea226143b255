"""quality metrics. Label sets are bounded by configuration (contract fields) and by
WK_QUALITY_MAX_MODELS / WK_QUALITY_MAX_SOURCES, never by what clients invent."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CHECK = Gauge(
    "wk_quality_check",
    "Check value of the last judged window (1 is perfect): completeness, accuracy, "
    "consistency, freshness.",
    ["model", "check"],
)
FIELD_MISSING = Gauge(
    "wk_quality_field_missing_ratio", "Share of events without the field.", ["model", "field"]
)
FIELD_INVALID = Gauge(
    "wk_quality_field_invalid_ratio",
    "Share of present values out of range or not allowed.",
    ["model", "field"],
)
VIOLATIONS = Counter(
    "wk_quality_violations_total",
    "Problems found, by kind: missing, invalid, wrong_type, rule, duplicate, future, stale, late.",
    ["model", "kind"],
)
LAG = Gauge(
    "wk_quality_event_lag_ms",
    "Age of events when they arrived (mean, max) in the last closed window.",
    ["model", "stat"],
)
WINDOWS = Counter(
    "wk_quality_windows_total",
    "Windows closed: judged, or insufficient (fewer than min_events).",
    ["model", "verdict"],
)
GATE = Gauge("wk_quality_gate_blocked", "1 while the gate is blocked.", ["gate"])
GATE_CHANGES = Counter("wk_quality_gate_changes_total", "Gate states published.", ["gate", "state"])
SILENT = Gauge(
    "wk_quality_silent",
    "1 while a model (source empty) or one of its sources sends nothing.",
    ["model", "source"],
)
ALERTS = Counter(
    "wk_quality_alerts_total", "Alert state changes published.", ["alertname", "status"]
)
RECENT_IDS = Gauge(
    "wk_quality_recent_ids", "Event ids held for the duplicate check.", ["partition"]
)
CAPPED = Counter(
    "wk_quality_capped_total",
    "Events of models beyond WK_QUALITY_MAX_MODELS (not checked), and sources beyond "
    "WK_QUALITY_MAX_SOURCES (not watched for silence).",
    ["what"],
)
GATE_REQUESTS = Counter(
    "wk_quality_gate_requests_total",
    "GET /gate/<name> answers: unblocked, blocked, unknown, not_ready.",
    ["answer"],
)
