"""replication metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LAG_RECORDS = Gauge(
    "wk_replication_lag_records",
    "Offsets on a from the first record not yet on b to a's end (0: all copied).",
    ["topic", "partition"],
)
LAG_SECONDS = Gauge(
    "wk_replication_lag_seconds",
    "Age of the oldest record on a not yet on b, by its timestamp (0: all copied).",
    ["topic", "partition"],
)
TARGET_UP = Gauge("wk_replication_target_up", "1 if the last poll reached cluster b.")
LAST_POLL = Gauge(
    "wk_replication_last_poll_timestamp_seconds", "When the last complete poll ended."
)
POLLS = Counter("wk_replication_polls_total", "Polls, by how they ended.", ["result"])
ALERTS = Counter(
    "wk_replication_alerts_total", "Alert state changes published.", ["alertname", "status"]
)
PARTITION_ERRORS = Counter(
    "wk_replication_partition_errors_total",
    "Partitions skipped in a poll (no leader yet, a timeout), by cluster (source, target).",
    ["cluster"],
)
