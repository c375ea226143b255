"""router metrics, all ``wk_router_*``. ``integration`` is ``webhook/<index>`` within the
receiver, so that two webhooks of one receiver are told apart."""

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
