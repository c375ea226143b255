"""What one window (or a merge of windows) knows about one series: mergeable sums.

A series is one model x version x variant (x region). Every figure a rule or a
``WindowAggregate`` needs is derived from these sums, so windows merge into rolling views
(1 min, 5 min, a trailing hour) and subtract out of them exactly.

>>> agg = Aggregate(slow_thresholds=(300.0,))
>>> for latency in (10.0, 20.0, 30.0, 400.0):
...     agg.add_prediction(latency, ok=latency < 300, cost=None, tokens_in=0, tokens_out=0)
>>> figures = agg.figures(duration_s=10.0)
>>> figures["count"], figures["error_rate"], figures["throughput_per_s"], figures["latency_max_ms"]
(4, 0.25, 0.4, 400.0)
>>> agg.slow[0], abs(figures["latency_p50_ms"] - 20.0) <= 0.2  # within the sketch's 1 %
(1, True)
"""

from __future__ import annotations

from typing import Any

from .sketch import DDSketch

# Figures a rule may name, with what they mean for an empty aggregate.
FIGURES = (
    "count",
    "throughput_per_s",
    "error_rate",
    "availability",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "latency_mean_ms",
    "cost_usd",
    "tokens_in",
    "tokens_out",
    "cpu_utilization",
    "memory_utilization",
    "gpu_utilization",
    "degraded_fraction",
)


class Aggregate:
    """Sums over the events of one window or of several merged windows."""

    __slots__ = (
        "cost",
        "count",
        "cpu_n",
        "cpu_sum",
        "degraded",
        "errors",
        "gpu_n",
        "gpu_sum",
        "mem_n",
        "mem_sum",
        "sketch",
        "slow",
        "thresholds",
        "tokens_in",
        "tokens_out",
    )

    def __init__(self, slow_thresholds: tuple[float, ...] = ()) -> None:
        self.thresholds = slow_thresholds
        self.count = 0
        self.errors = 0
        self.degraded = 0  # answered by a fallback or from a cache (watchkeeper.continuity)
        self.slow = [0] * len(slow_thresholds)  # events slower than each threshold
        self.sketch = DDSketch()  # also holds the exact sum and maximum of the latencies
        self.cost = 0.0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cpu_sum = self.mem_sum = self.gpu_sum = 0.0
        self.cpu_n = self.mem_n = self.gpu_n = 0

    def add_prediction(
        self,
        latency_ms: float,
        ok: bool,
        cost: float | None,
        tokens_in: int,
        tokens_out: int,
        degraded: bool = False,
    ) -> None:
        self.count += 1
        if not ok:
            self.errors += 1
        if degraded:
            self.degraded += 1
        self.sketch.add(latency_ms)
        thresholds = self.thresholds
        for i in range(len(thresholds)):
            if latency_ms > thresholds[i]:
                self.slow[i] += 1
        if cost is not None:
            self.cost += cost
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out

    def add_telemetry(self, cpu: float | None, memory: float | None, gpu: float | None) -> None:
        if cpu is not None:
            self.cpu_sum += cpu
            self.cpu_n += 1
        if memory is not None:
            self.mem_sum += memory
            self.mem_n += 1
        if gpu is not None:
            self.gpu_sum += gpu
            self.gpu_n += 1

    # -- algebra ----------------------------------------------------------------------

    _SUMS = (
        "count",
        "errors",
        "degraded",
        "cost",
        "tokens_in",
        "tokens_out",
        "cpu_sum",
        "cpu_n",
        "mem_sum",
        "mem_n",
        "gpu_sum",
        "gpu_n",
    )

    def merge(self, other: Aggregate) -> Aggregate:
        for name in self._SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.slow = [a + b for a, b in zip(self.slow, other.slow, strict=True)]
        self.sketch.merge(other.sketch)
        return self

    def subtract(self, other: Aggregate) -> Aggregate:
        """Remove a window that was merged in (rolling views). The maximum cannot be
        un-merged exactly: the sketch's bound stands in for it (never below the truth)."""
        for name in self._SUMS:
            setattr(self, name, getattr(self, name) - getattr(other, name))
        self.slow = [a - b for a, b in zip(self.slow, other.slow, strict=True)]
        self.sketch.subtract(other.sketch)
        return self

    def copy(self) -> Aggregate:
        return Aggregate(self.thresholds).merge(self)

    def without_sketch(self) -> Aggregate:
        """The same sums without the latency distribution: for long count-only periods."""
        light = Aggregate(self.thresholds)
        for name in self._SUMS:
            setattr(light, name, getattr(self, name))
        light.slow = list(self.slow)
        return light

    # -- figures ----------------------------------------------------------------------

    def figures(self, duration_s: float) -> dict[str, float]:
        count = self.count
        sketch = self.sketch
        figures: dict[str, float] = {
            "count": count,
            "throughput_per_s": count / duration_s if duration_s > 0 else 0.0,
            "error_rate": self.errors / count if count else 0.0,
            "availability": (count - self.errors) / count if count else 1.0,
            "latency_max_ms": (sketch.max or 0.0) if count else 0.0,
            "latency_mean_ms": sketch.sum / sketch.count if sketch.count else 0.0,
            "cost_usd": self.cost,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cpu_utilization": self.cpu_sum / self.cpu_n if self.cpu_n else None,
            "memory_utilization": self.mem_sum / self.mem_n if self.mem_n else None,
            "gpu_utilization": self.gpu_sum / self.gpu_n if self.gpu_n else None,
            "degraded_fraction": self.degraded / count if count else 0.0,
        }
        for name, q in (
            ("latency_p50_ms", 0.5),
            ("latency_p95_ms", 0.95),
            ("latency_p99_ms", 0.99),
        ):
            figures[name] = (sketch.quantile(q) or 0.0) if count else 0.0
        return figures

    def bad_fraction(self, bad: str) -> tuple[int, int]:
        """(bad events, all events) for an SLO: ``errors`` or ``slow:<index>``."""
        if bad == "errors":
            return self.errors, self.count
        return self.slow[int(bad.split(":", 1)[1])], self.count

    # -- state ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self._SUMS}
        data["slow"] = self.slow
        data["thr"] = list(self.thresholds)
        data["sketch"] = self.sketch.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], thresholds: tuple[float, ...]) -> Aggregate:
        agg = cls(thresholds)
        for name in cls._SUMS:
            # A sum added since the state was written (degraded) starts at zero.
            setattr(agg, name, data.get(name, 0))
        # Rules may have changed between runs: counts follow their threshold, new ones start
        # at zero.
        previous = dict(zip(data.get("thr", []), data.get("slow", []), strict=False))
        agg.slow = [previous.get(t, 0) for t in thresholds]
        agg.sketch = DDSketch.from_dict(data["sketch"])
        return agg
