"""Metrics of the guards and result caches of a process (one registration per process).

The counters on the hot path (calls by outcome, cache hits and misses) are plain integers
on each guard and cache, read by a collector at scrape time: a prometheus_client
``Counter.inc`` takes a lock and costs more than the rest of a guarded call. A guard or
cache that is garbage-collected takes its counts with it (a counter reset to Prometheus).
Rare events (failures, step errors, breaker transitions) use ordinary metrics.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

GUARD_FAILURES = Counter(
    "wk_sdk_guard_failures_total",
    "Guarded calls where every step of the fallback chain failed (AllFallbacksFailed).",
    ["model"],
)
GUARD_STEP_ERRORS = Counter(
    "wk_sdk_guard_step_errors_total",
    "Errors of one step of a guarded call (the primary or a fallback), by error type.",
    ["model", "step", "error_type"],
)
GUARD_EMIT_ERRORS = Counter(
    "wk_sdk_guard_emit_errors_total",
    "Predictions a guard could not emit (describe() raised or returned a bad field).",
    ["model"],
)
BREAKER_STATE = Gauge(
    "wk_sdk_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", ["model"]
)
BREAKER_OPENED = Counter("wk_sdk_breaker_opened_total", "Times the breaker opened.", ["model"])

_guards: weakref.WeakSet[Any] = weakref.WeakSet()
_caches: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()


def track_guard(guard: Any) -> None:
    with _lock:
        _guards.add(guard)


def track_cache(cache: Any) -> None:
    with _lock:
        _caches.add(cache)


class _Collector:
    """``wk_sdk_guard_calls_total{model,outcome}`` (outcome: primary, fallback, cache,
    human, failed — who answered — and rejected_open: calls the open breaker kept off the
    primary, also counted under whoever answered them) and ``wk_sdk_cache_*{cache}``."""

    def collect(self) -> Iterator[Any]:
        with _lock:
            guards, caches = list(_guards), list(_caches)
        calls = CounterMetricFamily(
            "wk_sdk_guard_calls", "Guarded calls by outcome.", labels=["model", "outcome"]
        )
        totals: dict[tuple[str, str], int] = {}
        for guard in guards:
            for outcome, n in guard.outcomes.items():
                key = (guard.model, outcome)
                totals[key] = totals.get(key, 0) + n
        for key, n in sorted(totals.items()):
            calls.add_metric(list(key), n)
        yield calls
        families = {
            "hits": CounterMetricFamily(
                "wk_sdk_cache_hits",
                "Result cache lookups that found a fresh entry.",
                labels=["cache"],
            ),
            "misses": CounterMetricFamily(
                "wk_sdk_cache_misses",
                "Result cache lookups that found nothing fresh.",
                labels=["cache"],
            ),
            "unkeyable": CounterMetricFamily(
                "wk_sdk_cache_unkeyable",
                "Calls whose features could not be keyed (no key= given): cache skipped.",
                labels=["cache"],
            ),
            "evictions": CounterMetricFamily(
                "wk_sdk_cache_evictions",
                "Entries the result cache dropped to stay in size.",
                labels=["cache"],
            ),
        }
        entries = GaugeMetricFamily(
            "wk_sdk_cache_entries", "Entries held by the result cache.", labels=["cache"]
        )
        sums: dict[tuple[str, str], int] = {}
        sizes: dict[str, int] = {}
        for cache in caches:
            for name in families:
                key = (name, cache.name)
                sums[key] = sums.get(key, 0) + getattr(cache, name)
            sizes[cache.name] = sizes.get(cache.name, 0) + len(cache)
        for (name, cache_name), n in sorted(sums.items()):
            families[name].add_metric([cache_name], n)
        for cache_name, n in sorted(sizes.items()):
            entries.add_metric([cache_name], n)
        yield from families.values()
        yield entries


REGISTRY.register(_Collector())
