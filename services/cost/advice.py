"""Advice: where the stream shows money that could be saved, per model version and day.

==================  ===================================================================
kind                what the stream shows, and the saving claimed
==================  ===================================================================
SCALE_TO_ZERO       hours of the day with at most ``idle_requests`` requests while the
                    fleet was provisioned (telemetry): its hourly price x those hours
MOVE_TO_BATCH       requests from callers (user, else tenant) that sent at least
                    ``burst_requests`` in one window: a program, not a person waiting;
                    their spend x ``batch_discount`` (the providers' batch APIs: 50 %)
RESULT_CACHE        requests whose ``input_hash`` an LRU cache of ``cache_size`` entries
                    and ``cache_ttl`` would have answered: their whole spend
CHEAPER_VERSION     another version of the model, in traffic the same day, costs at least
                    ``min_saving`` less per inference with **equal quality**: an error
                    rate not worse by more than ``error_margin`` (non-inferiority: the
                    upper 95 % bound of the difference is below the margin) and a mean
                    latency at most ``latency_margin`` higher; the saving is the cost
                    difference x this version's requests
==================  ===================================================================

Nothing is advised from fewer than ``min_requests`` requests a day (idle hours excepted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from .cachesim import CacheSim

Z_95_ONE_SIDED = 1.645


@dataclass(frozen=True)
class AdviceSettings:
    enabled: bool = True
    min_requests: int = 1000
    idle_requests: int = 0
    min_idle_hours: int = 3
    burst_requests: int = 100
    batch_discount: float = 0.5
    min_batch_share: float = 0.10
    cache_size: int = 50_000
    cache_ttl_ms: int = 3_600_000
    min_cache_share: float = 0.10
    error_margin: float = 0.005
    latency_margin: float = 0.20
    min_saving: float = 0.10


@dataclass
class DayStats:
    """What one model version did in one day: every advisor's evidence."""

    requests: int = 0
    errors: int = 0
    latency_ms: float = 0.0  # sum
    priced: int = 0
    cost: float = 0.0
    batch_requests: int = 0
    batch_cost: float = 0.0
    cache_lookups: int = 0
    cache_repeats: int = 0
    cache_repeat_cost: float = 0.0
    cache_hits: int = 0  # already served by the model's own cache
    provisioned_hours: int = 0
    idle_hours: list[int] = field(default_factory=list)  # local hour of day
    idle_cost: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DayStats:
        return cls(**data)


@dataclass(frozen=True)
class Advice:
    kind: str
    model: str
    version: str
    requests: int
    cost: float
    share: float
    savings: float
    summary: str
    evidence: dict[str, float]
    alternative: str | None = None

    def record(self, period: tuple[int, int], event_ms: int, now_ms: int) -> dict[str, Any]:
        """The CostAdvice record of this advice, for the day ``period``."""
        return {
            "kind": self.kind,
            "model": self.model,
            "version": self.version,
            "alternative_version": self.alternative,
            "period_start_ms": period[0],
            "period_end_ms": period[1],
            "requests": self.requests,
            "cost_usd": self.cost,
            "share": self.share,
            "savings_usd": self.savings,
            "summary": self.summary,
            "evidence": {k: float(v) for k, v in self.evidence.items()},
            "event_time_ms": event_ms,
            "emitted_at_ms": now_ms,
            "generator": "cost",
        }


class UnitAdvice:
    """The advisors' state for one model version: today's figures, the open window's
    callers, the cache simulation."""

    def __init__(self, settings: AdviceSettings) -> None:
        self.settings = settings
        self.day = DayStats()
        self.hour_requests = 0
        self.hour_price = 0.0  # the fleet's highest hourly price seen this hour
        self.cache = CacheSim(settings.cache_size, settings.cache_ttl_ms)
        self.window = -1
        self.callers: dict[str, list[float]] = {}  # caller -> [requests, cost], this window

    def observe(
        self,
        window: int,
        t_ms: int,
        caller: str | None,
        latency_ms: float,
        ok: bool,
        cost: float | None,
        input_hash: str | None,
        cache_hit: bool,
    ) -> None:
        day = self.day
        day.requests += 1
        self.hour_requests += 1
        day.latency_ms += latency_ms
        if not ok:
            day.errors += 1
        spend = 0.0
        if cost is not None:
            day.priced += 1
            day.cost += cost
            spend = cost
        if cache_hit:
            day.cache_hits += 1
        elif input_hash is not None:
            day.cache_lookups += 1
            if self.cache.lookup(input_hash, t_ms):
                day.cache_repeats += 1
                day.cache_repeat_cost += spend
        if caller is None:
            return
        if window != self.window:
            if window < self.window:
                return  # a late event: its window's callers are gone
            self.window = window
            self.callers = {}
        calls = self.callers.get(caller)
        if calls is None:
            self.callers[caller] = [1, spend]
            return
        calls[0] += 1
        calls[1] += spend
        burst = self.settings.burst_requests
        if calls[0] > burst:
            day.batch_requests += 1
            day.batch_cost += spend
        elif calls[0] == burst:  # the caller just proved to be a program: all its calls count
            day.batch_requests += burst
            day.batch_cost += calls[1]

    def provisioned(self, fleet_hourly_price: float) -> None:
        """A telemetry sample: the fleet ran at this price during the hour."""
        if fleet_hourly_price > self.hour_price:
            self.hour_price = fleet_hourly_price

    def close_hour(self, hour_of_day: int, fleet_hourly_price: float) -> None:
        """``fleet_hourly_price``: at the hour's end; the hour counts as provisioned at the
        highest price seen in it, so hosts that stopped reporting mid-hour still count."""
        price = max(self.hour_price, fleet_hourly_price)
        if price > 0:
            self.day.provisioned_hours += 1
            if self.hour_requests <= self.settings.idle_requests:
                self.day.idle_hours.append(hour_of_day)
                self.day.idle_cost += price
        self.hour_requests = 0
        self.hour_price = fleet_hourly_price

    def close_day(self) -> DayStats:
        day, self.day = self.day, DayStats()
        return day

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.to_dict(),
            "hour_requests": self.hour_requests,
            "hour_price": self.hour_price,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.day = DayStats.from_dict(data["day"])
        self.hour_requests = data["hour_requests"]
        self.hour_price = data["hour_price"]


def _hours(hours: list[int]) -> str:
    """
    >>> _hours([1, 2, 3, 7, 23])
    '01-04h, 07-08h, 23-24h'
    """
    spans: list[list[int]] = []
    for hour in sorted(hours):
        if spans and spans[-1][1] == hour:
            spans[-1][1] = hour + 1
        else:
            spans.append([hour, hour + 1])
    return ", ".join(f"{a:02d}-{b:02d}h" for a, b in spans)


def advise(model: str, version: str, day: DayStats, s: AdviceSettings) -> list[Advice]:
    """The advice one version's day earns on its own (not the comparison of versions).

    >>> day = DayStats(requests=2000, priced=2000, cost=40.0, batch_requests=800,
    ...                batch_cost=16.0, cache_lookups=2000, cache_repeats=100)
    >>> [(a.kind, a.share, a.savings) for a in advise("m", "1", day, AdviceSettings())]
    [('MOVE_TO_BATCH', 0.4, 8.0)]
    """
    advice = []
    if len(day.idle_hours) >= s.min_idle_hours and day.idle_cost > 0:
        share = len(day.idle_hours) / max(day.provisioned_hours, 1)
        advice.append(
            Advice(
                "SCALE_TO_ZERO",
                model,
                version,
                day.requests,
                day.cost,
                share,
                day.idle_cost,
                f"{model} {version} was idle {len(day.idle_hours)} of "
                f"{day.provisioned_hours} provisioned hours ({_hours(day.idle_hours)}): "
                f"scaling to zero would have saved ${day.idle_cost:,.2f}",
                {"idle_hours": len(day.idle_hours), "provisioned_hours": day.provisioned_hours},
            )
        )
    if day.requests < s.min_requests:
        return advice
    share = day.batch_requests / day.requests
    if share >= s.min_batch_share and day.batch_cost > 0:
        savings = day.batch_cost * s.batch_discount
        advice.append(
            Advice(
                "MOVE_TO_BATCH",
                model,
                version,
                day.requests,
                day.cost,
                share,
                savings,
                f"{share:.0%} of {model} {version} requests came in bursts of "
                f"{s.burst_requests}+ per caller and window: as batch jobs they would have "
                f"cost ${savings:,.2f} less",
                {"batch_requests": day.batch_requests, "batch_cost_usd": day.batch_cost},
            )
        )
    if day.cache_lookups:
        share = day.cache_repeats / day.cache_lookups
        if share >= s.min_cache_share and day.cache_repeat_cost > 0:
            advice.append(
                Advice(
                    "RESULT_CACHE",
                    model,
                    version,
                    day.requests,
                    day.cost,
                    share,
                    day.cache_repeat_cost,
                    f"a result cache ({s.cache_size:,} entries, ttl "
                    f"{s.cache_ttl_ms // 1000} s) would have served {share:.0%} of {model} "
                    f"{version} requests, ${day.cache_repeat_cost:,.2f} of spend",
                    {
                        "lookups": day.cache_lookups,
                        "repeats": day.cache_repeats,
                        "already_cached": day.cache_hits,
                    },
                )
            )
    return advice


def _non_inferior(base: DayStats, other: DayStats, margin: float) -> tuple[bool, float]:
    """Is ``other``'s error rate at most ``margin`` worse than ``base``'s, at 95 %?
    Returns the verdict and the upper bound of the difference (Wald interval)."""
    p1, p2 = base.errors / base.requests, other.errors / other.requests
    se = math.sqrt(p1 * (1 - p1) / base.requests + p2 * (1 - p2) / other.requests)
    upper = (p2 - p1) + Z_95_ONE_SIDED * se
    return upper <= margin, upper


def cheaper_versions(model: str, days: dict[str, DayStats], s: AdviceSettings) -> list[Advice]:
    """For each version, the cheapest other version of equal quality, if one saves enough.

    >>> a = DayStats(requests=5000, errors=50, latency_ms=5000 * 900.0, priced=5000, cost=50.0)
    >>> b = DayStats(requests=5000, errors=45, latency_ms=5000 * 950.0, priced=5000, cost=20.0)
    >>> [(x.version, x.alternative, x.savings) for x in cheaper_versions("chat",
    ...     {"big": a, "small": b}, AdviceSettings())]
    [('big', 'small', 30.0)]
    """
    eligible = {v: d for v, d in days.items() if d.priced >= s.min_requests}
    advice = []
    for version, base in eligible.items():
        base_cpi = base.cost / base.priced
        best: tuple[float, str, float, float] | None = None
        for other_version, other in eligible.items():
            if other_version == version:
                continue
            cpi = other.cost / other.priced
            if cpi > base_cpi * (1.0 - s.min_saving):
                continue
            ok, upper = _non_inferior(base, other, s.error_margin)
            slower = (other.latency_ms / other.requests) / max(
                base.latency_ms / base.requests, 1e-9
            )
            if not ok or slower > 1.0 + s.latency_margin:
                continue
            savings = (base_cpi - cpi) * base.priced
            if best is None or savings > best[0]:
                best = (savings, other_version, upper, slower)
        if best is None:
            continue
        savings, other_version, upper, slower = best
        other = eligible[other_version]
        advice.append(
            Advice(
                "CHEAPER_VERSION",
                model,
                version,
                base.requests,
                base.cost,
                savings / base.cost if base.cost else 0.0,
                savings,
                f"{model} {other_version} served the same day at "
                f"${other.cost / other.priced:.6f} per inference against "
                f"${base_cpi:.6f} for {version}, with an error rate not worse by more than "
                f"{s.error_margin:.1%} and latency x{slower:.2f}: ${savings:,.2f} saved on "
                f"{version}'s traffic",
                {
                    "cost_per_inference": base_cpi,
                    "alt_cost_per_inference": other.cost / other.priced,
                    "error_rate": base.errors / base.requests,
                    "alt_error_rate": other.errors / other.requests,
                    "error_diff_upper95": upper,
                    "latency_ratio": slower,
                },
                alternative=other_version,
            )
        )
    return advice
