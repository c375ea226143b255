"""slo metrics. Series labels are capped by WK_SLO_MAX_SERIES."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SERIES = ["model", "version", "variant", "region"]

LATENCY = Gauge(
    "wk_slo_latency_ms",
    "Latency quantile of the last closed window or view.",
    [*SERIES, "view", "quantile"],
)
ERROR_RATE = Gauge("wk_slo_error_rate", "Share of failed requests.", [*SERIES, "view"])
AVAILABILITY = Gauge("wk_slo_availability", "Share of successful requests.", [*SERIES, "view"])
THROUGHPUT = Gauge("wk_slo_throughput_per_s", "Events per second.", [*SERIES, "view"])
UTILIZATION = Gauge(
    "wk_slo_utilization", "Mean resource utilization from telemetry.", [*SERIES, "view", "resource"]
)
LATE = Counter(
    "wk_slo_late_events_total", "Events after their window closed (not counted).", SERIES
)
WINDOWS = Counter("wk_slo_windows_closed_total", "Windows closed and published.", SERIES)
ALERTS = Counter("wk_slo_alerts_total", "Alert state changes published.", ["alertname", "status"])
SERIES_CAPPED = Counter(
    "wk_slo_series_capped_total",
    "Events whose version was folded into _other by WK_SLO_MAX_SERIES.",
)


def publish(labels: dict[str, str], view: str, figures: dict[str, float | None]) -> None:
    series = [labels["model"], labels["version"], labels["variant"], labels.get("region", "")]
    for name, q in (
        ("latency_p50_ms", "0.5"),
        ("latency_p95_ms", "0.95"),
        ("latency_p99_ms", "0.99"),
        ("latency_max_ms", "1"),
    ):
        LATENCY.labels(*series, view, q).set(figures[name] or 0.0)
    ERROR_RATE.labels(*series, view).set(figures["error_rate"] or 0.0)
    AVAILABILITY.labels(*series, view).set(figures["availability"] or 0.0)
    THROUGHPUT.labels(*series, view).set(figures["throughput_per_s"] or 0.0)
    for resource in ("cpu", "memory", "gpu"):
        value = figures[f"{resource}_utilization"]
        if value is not None:
            UTILIZATION.labels(*series, view, resource).set(value)
