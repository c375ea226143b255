"""slo metrics. Series labels are capped by WK_SLO_MAX_SERIES.

``wk_slo_latency_seconds`` is the latency to query: a histogram observed per prediction, so
``histogram_quantile`` works over any range and sums across instances. ``wk_slo_latency_ms``
(a gauge per quantile of the last window or view) stays for the demo and older dashboards.
The gauges of a partition's series are removed when the partition is revoked (``forget``):
the instance that owns it now exports them.

>>> observe = Observer()
>>> observe(("doc", "v1", "a", ""), 0.012, ok=False, degraded=True); observe.flush()
>>> LATENCY_SECONDS.labels("doc", "v1", "a")._sum.get()
0.012
>>> PREDICTIONS.labels("doc", "v1", "a", "error")._value.get()
1.0
>>> publish({"model": "doc", "version": "v1", "variant": "a"}, "window", dict.fromkeys(FIGURES))
>>> LATENCY.labels("doc", "v1", "a", "", "window", "0.99")._value.get()
0.0
>>> forget(("doc", "v1", "a", ""))
>>> [s.labels for s in LATENCY.collect()[0].samples if s.labels["model"] == "doc"]
[]
"""

from __future__ import annotations

from bisect import bisect_left
from contextlib import suppress

from prometheus_client import Counter, Gauge, Histogram

from .config import VIEWS_MS

SERIES = ["model", "version", "variant", "region"]
HISTOGRAM_SERIES = ["model", "version", "variant"]
# Model latency: a cache hit in a millisecond, an LLM answer in tens of seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BOUNDS = (*BUCKETS, float("inf"))  # le is inclusive: bisect_left finds the bucket
_SLOTS = len(_BOUNDS)

LATENCY_SECONDS = Histogram(
    "wk_slo_latency_seconds",
    "Latency of each prediction (latency_ms / 1000), for histogram_quantile.",
    HISTOGRAM_SERIES,
    buckets=BUCKETS,
)
PREDICTIONS = Counter(
    "wk_slo_predictions_total",
    "Predictions counted, by outcome (ok, error), for error rates in PromQL.",
    [*HISTOGRAM_SERIES, "outcome"],
)
DEGRADED = Counter(
    "wk_slo_degraded_predictions_total",
    "Predictions answered by a fallback or a cache (fallback_used or cache_hit).",
    HISTOGRAM_SERIES,
)

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


QUANTILES = (
    ("latency_p50_ms", "0.5"),
    ("latency_p95_ms", "0.95"),
    ("latency_p99_ms", "0.99"),
    ("latency_max_ms", "1"),
)
FIGURES = (
    *(name for name, _ in QUANTILES),
    "error_rate",
    "availability",
    "throughput_per_s",
    "cpu_utilization",
    "memory_utilization",
    "gpu_utilization",
)
VIEWS = ("window", *(f"{period // 60_000}m" for period in VIEWS_MS))
RESOURCES = ("cpu", "memory", "gpu")


class Observer:
    """Counts predictions into the histogram and counters: per event into plain lists
    (a bisect and a few additions), pushed into the metrics by ``flush()`` once per
    consumed batch (``SloTask.tick``). prometheus_client's ``observe()`` takes a lock per
    call and walks the buckets: per event it cost about a third of the task's throughput.

    ``flush`` adds to the children's bucket and sum values directly (``_buckets``, ``_sum``:
    prometheus_client 0.26, pinned in constraints.txt); tests/test_metrics_docs.py checks
    the result equals ``observe()``'s.
    """

    def __init__(self) -> None:
        self._pending: dict[tuple[str, ...], list[float]] = {}

    def __call__(self, key: tuple[str, ...], seconds: float, ok: bool, degraded: bool) -> None:
        row = self._pending.get(key)
        if row is None:
            # bucket counts, then sum, errors, degraded
            row = self._pending[key] = [0.0] * (_SLOTS + 3)
        row[bisect_left(_BOUNDS, seconds)] += 1
        row[_SLOTS] += seconds
        if not ok:
            row[_SLOTS + 1] += 1
        if degraded:
            row[_SLOTS + 2] += 1

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for key, row in pending.items():
            labels = key[:3]
            child = LATENCY_SECONDS.labels(*labels)
            for slot, count in enumerate(row[:_SLOTS]):
                if count:
                    child._buckets[slot].inc(count)
            child._sum.inc(row[_SLOTS])
            errors, total = row[_SLOTS + 1], sum(row[:_SLOTS])
            PREDICTIONS.labels(*labels, "ok").inc(total - errors)
            PREDICTIONS.labels(*labels, "error").inc(errors)
            DEGRADED.labels(*labels).inc(row[_SLOTS + 2])


def _remove(metric: Gauge, *labels: str) -> None:
    with suppress(KeyError):  # never set
        metric.remove(*labels)


def forget(key: tuple[str, ...]) -> None:
    """Remove the gauges of one series (model, version, variant, region)."""
    for view in VIEWS:
        for _, q in QUANTILES:
            _remove(LATENCY, *key, view, q)
        for gauge in (ERROR_RATE, AVAILABILITY, THROUGHPUT):
            _remove(gauge, *key, view)
        for resource in RESOURCES:
            _remove(UTILIZATION, *key, view, resource)


def publish(labels: dict[str, str], view: str, figures: dict[str, float | None]) -> None:
    series = [labels["model"], labels["version"], labels["variant"], labels.get("region", "")]
    for name, q in QUANTILES:
        LATENCY.labels(*series, view, q).set(figures[name] or 0.0)
    ERROR_RATE.labels(*series, view).set(figures["error_rate"] or 0.0)
    AVAILABILITY.labels(*series, view).set(figures["availability"] or 0.0)
    THROUGHPUT.labels(*series, view).set(figures["throughput_per_s"] or 0.0)
    for resource in RESOURCES:
        value = figures[f"{resource}_utilization"]
        if value is not None:
            UTILIZATION.labels(*series, view, resource).set(value)
