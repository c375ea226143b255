"""SDK metrics, registered once per process whatever the number of emitters."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EMITTED = Counter(
    "wk_sdk_events_emitted_total", "Events accepted by an Emitter.", ["client_id", "topic"]
)
DROPPED = Counter(
    "wk_sdk_events_dropped_total",
    "Events an Emitter gave up on: buffer overflow, delivery failure, or undelivered at close.",
    ["client_id", "reason"],
)
BUFFERED = Gauge(
    "wk_sdk_buffered_events", "Events held by an Emitter, not yet acknowledged.", ["client_id"]
)
