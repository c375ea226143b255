"""archive metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS = Counter("wk_archive_events_total", "Events written to the cold tier.", ["topic"])
BYTES = Counter("wk_archive_bytes_written_total", "Parquet bytes written, by tier.", ["tier"])
PARTS = Counter("wk_archive_parts_written_total", "Parts written, by tier.", ["tier"])
FLUSHES = Counter("wk_archive_flushes_total", "Partition flushes committed.")
COMPACTIONS = Counter("wk_archive_compactions_total", "Days of a partition compacted.")
RETENTION_DELETIONS = Counter(
    "wk_archive_retention_deletions_total", "Parts deleted by retention, by tier.", ["tier"]
)
RECOVERED = Counter(
    "wk_archive_recovered_parts_total",
    "Cold parts deleted at assignment: written by a flush whose commit never happened.",
)
WRITE_FAILURES = Counter(
    "wk_archive_write_failures_total",
    "Failed attempts to write or clean up the tiers, by step (flush, recover, maintain).",
    ["step"],
)
COMMIT_FAILURES = Counter(
    "wk_archive_commit_failures_total", "Offset commits refused after a flush was written."
)
WRITING = Gauge("wk_archive_write_ok", "1 while the tiers take writes, 0 while they fail.")
LAG = Gauge(
    "wk_archive_lag_records",
    "High watermark minus committed offset, per assigned partition (at each maintenance).",
    ["topic", "partition"],
)
ASSIGNED = Gauge("wk_archive_assigned_partitions", "Partitions this instance owns now.")
BUFFERED = Gauge("wk_archive_buffered_records", "Records read, waiting for their flush.")
ALERTS = Counter(
    "wk_archive_alerts_total", "Alert state changes published.", ["alertname", "status"]
)
