"""SDK metrics, registered once per process whatever the number of emitters."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
ACTIVE_CLUSTER = Gauge(
    "wk_sdk_active_cluster",
    "Index (in WK_KAFKA_CLUSTERS) of the cluster an Emitter produces to; 0 is the primary.",
    ["client_id"],
)
FAILOVERS = Counter(
    "wk_sdk_failovers_total",
    "Switches of an Emitter to another cluster, by the index of the one it switched to.",
    ["client_id", "to"],
)

# Routing: what the reader of the routing topic refused (the previous split stays).
ROUTING_INVALID = Counter(
    "wk_sdk_routing_invalid_total",
    "Records of the routing topic that were not a valid split; the previous split was kept.",
    ["client_id"],
)
ROUTING_SPLITS = Gauge(
    "wk_sdk_routing_splits", "Models with a traffic split known to an Emitter.", ["client_id"]
)

# Shadow models: one series per (client, model, candidate version).
_SHADOW = ["client_id", "model", "version"]
SHADOW_SUBMITTED = Counter(
    "wk_sdk_shadow_submitted_total", "Requests offered to a shadow model.", _SHADOW
)
SHADOW_DROPPED = Counter(
    "wk_sdk_shadow_dropped_total",
    "Requests a shadow model never ran: queue full, request not copyable, closed.",
    [*_SHADOW, "reason"],
)
SHADOW_RAN = Counter("wk_sdk_shadow_runs_total", "Requests a shadow model ran.", _SHADOW)
SHADOW_ERRORS = Counter(
    "wk_sdk_shadow_errors_total", "Shadow runs whose predict (or describe) raised.", _SHADOW
)
SHADOW_AGREED = Counter(
    "wk_sdk_shadow_agreed_total", "Shadow runs whose answer agreed with the primary's.", _SHADOW
)
SHADOW_LATENCY = Histogram(
    "wk_sdk_shadow_latency_seconds",
    "Latency of the shadow candidate and of the primary it shadows.",
    [*_SHADOW, "side"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
