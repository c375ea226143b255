"""counter metrics."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS = Counter(
    "wk_counter_events_total",
    "Events counted, by topic, model, version and status.",
    ["topic", "model", "version", "status"],
)
SERIES_CAPPED = Counter(
    "wk_counter_series_capped_total",
    "Events whose (model, version) was folded into _other by WK_COUNTER_MAX_SERIES.",
)
