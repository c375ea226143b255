"""ingest metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "wk_ingest_events_total",
    "Events acknowledged by the broker, by topic.",
    ["topic"],
)
REJECTED = Counter(
    "wk_ingest_rejected_total",
    "Events refused (told to the caller, not written), by topic and reason; topic "
    "'unknown' when the item named none we know.",
    ["topic", "reason"],
)
FAILED = Counter(
    "wk_ingest_failed_total",
    "Accepted events the broker did not acknowledge in time (answered 503), by topic.",
    ["topic"],
)
REQUESTS = Counter("wk_ingest_requests_total", "Requests by status code.", ["code"])
THROTTLED = Counter(
    "wk_ingest_throttled_total",
    "Requests refused for backpressure: 429 (the in-flight bound is full), 503 (Kafka "
    "does not answer), by reason.",
    ["reason"],
)
LATENCY = Histogram(
    "wk_ingest_request_seconds",
    "Time from the request to its answer (for 200s: until the broker acknowledged).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INFLIGHT_EVENTS = Gauge("wk_ingest_inflight_events", "Events waiting for the broker now.")
INFLIGHT_BYTES = Gauge("wk_ingest_inflight_bytes", "Encoded bytes waiting for the broker now.")
KAFKA_UP = Gauge("wk_ingest_kafka_up", "1 if the last metadata probe of Kafka answered.")
