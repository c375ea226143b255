"""router metrics, all ``wk_router_*``. ``integration`` is ``<kind>/<index>`` within the
receiver (``webhook/0``, ``slack/0``, ``pagerduty/1`` ...), so that two integrations of one
receiver are told apart. No label ever carries a token, a secret or a URL."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ALERTS_RECEIVED = Counter(
    "wk_router_alerts_received_total",
    "Alert events read from the alerts topic after start-up, by status "
    "(firing, resolved, or tombstone for a deleted key).",
    ["status"],
)
ALERTS_RESTORED = Counter(
    "wk_router_alerts_restored_total",
    "Alert events read back from the alerts topic while restoring at start-up.",
)
NOTIFICATIONS_SENT = Counter(
    "wk_router_notifications_sent_total",
    "Notifications a receiver acknowledged with a 2xx, by notification status.",
    ["receiver", "integration", "status"],
)
NOTIFICATIONS_FAILED = Counter(
    "wk_router_notifications_failed_total",
    "Notifications not delivered: rejected (4xx), gave_up (retry budget spent), "
    "cancelled (shutdown).",
    ["receiver", "integration", "reason"],
)
ATTEMPTS = Counter(
    "wk_router_notification_attempts_total",
    "HTTP attempts, by result: success, server_error, rate_limited, rejected, network_error.",
    ["receiver", "integration", "result"],
)
DELIVERY_LATENCY = Histogram(
    "wk_router_delivery_latency_seconds",
    "From an alert's event_time_ms to the receiver's 2xx, for each alert that was news in "
    "the notification (newly firing or newly resolved).",
    ["receiver", "integration"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
IN_FLIGHT = Gauge(
    "wk_router_notifications_in_flight",
    "Notifications being delivered (attempting, or waiting to retry).",
    ["receiver", "integration"],
)
ACTIVE_GROUPS = Gauge("wk_router_active_groups", "Aggregation groups with at least one alert.")
NFLOG_ENTRIES = Gauge(
    "wk_router_notification_log_entries",
    "Entries in the notification log: (integration, group) pairs a receiver believes firing.",
)
NFLOG_WRITES = Counter(
    "wk_router_notification_log_writes_total",
    "Writes to the notification-log topic after a delivery, by result (ok, failed).",
    ["result"],
)
RATE_LIMITED = Counter(
    "wk_router_rate_limited_total",
    "Notifications that had to wait for the receiver's rate limit.",
    ["receiver", "integration"],
)
MUTED = Counter(
    "wk_router_alerts_muted_total",
    "Firing alerts left out of a flush, by reason (silenced, inhibited), and whole flushes "
    "left out because their route was muted by a time interval (time_interval).",
    ["reason"],
)
SILENCES = Gauge("wk_router_silences", "Silences by state (pending, active, expired).", ["state"])
FLAPPING = Gauge("wk_router_flapping_alerts", "Alerts held back as flapping right now.")
ESCALATIONS = Gauge(
    "wk_router_escalations",
    "Open escalations by status (triggered, acknowledged, resolved).",
    ["status"],
)
ESCALATION_EVENTS = Counter(
    "wk_router_escalation_events_total",
    "Escalation events: escalated (a stage paged), paged_again (an ack timed out), "
    "acknowledged, resolved, incident_opened.",
    ["event"],
)
INCIDENTS_OPEN = Gauge("wk_router_incidents_open", "Incidents not resolved yet.")
STATE_WRITES = Counter(
    "wk_router_state_writes_total",
    "Writes to the router's state topics (silences, escalations, incidents), by result.",
    ["topic", "result"],
)
META_ALERTS = Counter(
    "wk_router_meta_alerts_total",
    "RouterDeliveryFailed alerts published, by status (firing when an integration's "
    "notification was undeliverable, resolved when it delivers again).",
    ["status"],
)
API_REQUESTS = Counter(
    "wk_router_api_requests_total",
    "HTTP API requests, by endpoint (its route pattern) and status code.",
    ["endpoint", "code"],
)
INGESTED = Counter(
    "wk_router_ingested_alerts_total",
    "Alerts taken from Alertmanager webhook payloads, by result (published, dead_lettered).",
    ["result"],
)
