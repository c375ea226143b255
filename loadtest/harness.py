"""What every benchmark shares: timing, tables and JSON results."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([1.0, 2.0, 3.0, 4.0], 0.99)
    (2.0, 4.0)
    """
    index = max(0, min(len(sorted_values) - 1, int(q * len(sorted_values) + 0.999999) - 1))
    return sorted_values[index]


def per_call_us(fn: Callable[[int], object], n: int) -> list[float]:
    """Time each of ``n`` calls of ``fn(i)`` on its own, in microseconds, sorted."""
    samples = []
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        fn(i)
        samples.append((clock() - start) / 1000.0)
    samples.sort()
    return samples


def best_rate(fn: Callable[[], int], repeats: int = 5) -> float:
    """Items per second of the fastest of ``repeats`` runs of ``fn`` (which returns items).

    The fastest run is the one least disturbed by the rest of a shared machine.
    """
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        items = fn()
        rates.append(items / (time.perf_counter() - start))
    return max(rates)


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(samples),
        "p99": percentile(samples, 0.99),
        "mean": statistics.fmean(samples),
    }


def table(title: str, header: list[str], rows: list[list[object]]) -> str:
    cells = [header] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def latency_table(title: str, sorted_ms: list[float]) -> str:
    rows = [[percentile(sorted_ms, q) for q in (0.5, 0.9, 0.99)] + [sorted_ms[-1]]]
    return table(f"{title}, n={len(sorted_ms)}", ["p50 ms", "p90 ms", "p99 ms", "max ms"], rows)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
    return str(value)


def write_results(name: str, figures: dict[str, float]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return path
