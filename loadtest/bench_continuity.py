"""What a guarded call costs beside the bare call, on a healthy model (no Kafka).

``measure_guard_overhead(n)`` times the bare model call and the guarded one interleaved,
pair by pair, in the same run (so both see the same machine), and reports the per-pair
difference. The DR benchmark imports it (it has no ``run``: it needs no broker):

* ``guard_overhead_*``: the guard as a healthy model runs it by default: breaker closed,
  a simpler model as fallback (called only on failure), no cache, no emitter;
* ``guard_cached_overhead_*``: plus a result cache on its miss path (``cache_first=True``,
  features cycling through more keys than the cache holds, so every call keys the
  features, misses, calls the model and stores the result): what the cache adds;
* ``guard_deadline_overhead_*``: the cached guard with ``deadline_s`` (the worker-thread
  hand-off of a hard deadline).

Wall-clock figures (``perf_counter_ns``) are the ones asked for; ``*_cpu_median_us`` are
the same pairs timed with the thread's CPU clock, which a busy shared machine's
preemptions do not inflate (not for the deadline variant, whose cost is mostly waiting).

``python -m loadtest.bench_continuity [n]`` prints them.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import Any

from watchkeeper.continuity import Breaker, DeadlinePool, Guard, ResultCache

from .harness import percentile, table

KEYS = 4096  # distinct feature dicts, cycled through
CACHE_SIZE = 1024  # smaller than the cycle: an LRU cache misses every time


def _features() -> list[dict[str, Any]]:
    return [
        {
            "amount": 12.5 + i,
            "merchant_risk": (i % 97) / 97,
            "age_days": i % 3650,
            "country": ("FR", "DE", "US", "BR")[i % 4],
            "channel": "web" if i % 3 else "app",
            "hour": i % 24,
            "card_present": bool(i % 2),
            "velocity_1h": float(i % 13),
        }
        for i in range(KEYS)
    ]


def healthy_model(features: dict[str, Any]) -> bool:
    return features["amount"] * features["merchant_risk"] > 500.0


def _pairs(
    guarded: Callable[[Any], Any],
    n: int,
    features: list[dict],
    clock: Callable[[], int] = time.perf_counter_ns,
) -> tuple[list, list]:
    """Per-pair (guarded - bare) in µs, and the bare calls in µs, both sorted."""
    bare = healthy_model
    diffs, bares = [], []
    for i in range(n):
        f = features[i % KEYS]
        # Alternate which goes first, so neither always finds the caches warm.
        if i & 1:
            t0 = clock()
            bare(f)
            t1 = clock()
            guarded(f)
            t2 = clock()
            b, g = t1 - t0, t2 - t1
        else:
            t0 = clock()
            guarded(f)
            t1 = clock()
            bare(f)
            t2 = clock()
            g, b = t1 - t0, t2 - t1
        diffs.append((g - b) / 1000.0)
        bares.append(b / 1000.0)
    diffs.sort()
    bares.sort()
    return diffs, bares


def simpler_model(features: dict[str, Any]) -> bool:
    return features["amount"] > 5000.0


def _cached_guard(name: str, **extra: Any) -> Guard:
    return Guard(
        healthy_model,
        model=name,
        breaker=Breaker(window=100, min_calls=20, slow_call_s=0.5, slow_call_rate=0.5),
        cache=ResultCache(maxsize=CACHE_SIZE, ttl_s=300.0, name=name),
        cache_first=True,
        **extra,
    )


def measure_guard_overhead(n: int = 200_000) -> dict[str, float]:
    """Median and p99 overhead (µs) of guarded calls over the bare call; see the module."""
    features = _features()
    pool = DeadlinePool(workers=2, name="bench-guard")
    variants = {
        "guard": Guard(healthy_model, model="bench-guard", fallbacks=[simpler_model]),
        "guard_cached": _cached_guard("bench-guard-cached"),
        "guard_deadline": _cached_guard("bench-guard-deadline", deadline_s=1.0, pool=pool),
    }
    results: dict[str, float] = {}
    enabled = gc.isenabled()
    gc.disable()  # a collection lands in one of the two sides at random: noise only
    try:
        for name, guard in variants.items():
            count = n if name != "guard_deadline" else max(1, n // 4)  # 10x slower per call
            # Warm up (threads, caches, branches) for one whole cycle of the keys, so the
            # measured run starts on keys the cache has already evicted.
            _pairs(guard, KEYS, features)
            diffs, bares = _pairs(guard, count, features)
            results[f"{name}_overhead_median_us"] = round(percentile(diffs, 0.5), 3)
            results[f"{name}_overhead_p99_us"] = round(percentile(diffs, 0.99), 3)
            if name != "guard_deadline":  # its cost is mostly waiting: CPU time misses it
                cpu, _ = _pairs(guard, count, features, time.thread_time_ns)
                results[f"{name}_overhead_cpu_median_us"] = round(percentile(cpu, 0.5), 3)
            if name == "guard":
                results["bare_call_median_us"] = round(percentile(bares, 0.5), 3)
                results["bare_call_p99_us"] = round(percentile(bares, 0.99), 3)
            if name == "guard_cached":
                assert guard.outcomes == {"primary": 2 * count + KEYS}, guard.outcomes
                assert guard.cache.hits == 0, "the miss path hit the cache"  # type: ignore[union-attr]
    finally:
        if enabled:
            gc.enable()
        pool.close()
    results["guard_overhead_n"] = n
    return results


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 200_000
    figures = measure_guard_overhead(n)
    rows = [
        [name, figures[f"{name}_overhead_median_us"], figures[f"{name}_overhead_p99_us"]]
        for name in ("guard", "guard_cached", "guard_deadline")
    ]
    for row in rows:
        row.append(figures.get(f"{row[0]}_overhead_cpu_median_us", "-"))
    rows.append(["bare call", figures["bare_call_median_us"], figures["bare_call_p99_us"], "-"])
    print(
        table(
            f"guarded call overhead over the bare call, n={n}",
            ["", "median µs", "p99 µs", "cpu median µs"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
