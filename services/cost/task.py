"""The cost task: one input partition's pricing and advice, and its share of the ledger.

It is the engine's unit of state (``watchkeeper.runtime.batch``) and works in two stages:

1. **pricing**, on the predictions and telemetry of the models of this partition: each
   prediction is priced (an explicit ``cost_usd`` wins; else its LLM tokens; else its
   compute share, ``compute.py``) and summed per label combination and window; at each
   commit the sums go out as CostSpend records, one per scope and window, keyed by scope
   (``spend.py``);
2. the **ledger** (``ledger.py``), on the ``cost-spend`` records of the scopes whose key
   lands on this partition: totals per window, day and month, and the budgets.

Kafka-free: the tests drive it with plain dicts and a fake clock.

Changelog records of the pricing stage (JSON values; the ledger's are in ledger.py):

=============================== ====================================================
key                             value
=============================== ====================================================
``t``                           event time, the open hour and day of the advisors
``u\\0[model, version]``         the fleet and today's advice figures of a version
``x\\0[model, pricing, source]`` requests that could not be priced, alert state
=============================== ====================================================

The spend sums themselves are never in the changelog: each commit publishes all of them,
in the same transaction as the offsets of the events they came from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from watchkeeper.codec import Codec
from watchkeeper.kit import AlertEmitter, Output, StreamClock, key_text, prometheus_count

from . import metrics, totals
from .advice import Advice, UnitAdvice, advise, cheaper_versions
from .compute import Fleet
from .config import CostConfig
from .costfile import CostFile
from .ledger import Ledger
from .periods import DAY_MS, HOUR_MS, Calendar
from .scopes import Scopes
from .spend import SPEND_TOPIC, spend_records
from .unpriced import Unpriced, unpriced_alert

_LLM, _COMPUTE, _EXPLICIT = totals.LLM, totals.COMPUTE, totals.EXPLICIT
_NEWEST = totals.SIZE  # the accumulators carry the newest event time after the figures


class FutureEvent(ValueError):
    """An event time too far ahead of the clock: it would close the day and the month."""


class Unit:
    """One model version on this partition: its fleet, and its advisors' figures."""

    __slots__ = ("advice", "fleet")

    def __init__(self, fleet: Fleet, advice: UnitAdvice) -> None:
        self.fleet = fleet
        self.advice = advice


class CostTask:
    def __init__(
        self,
        partition: int,
        config: CostConfig,
        costfile: CostFile,
        codec: Codec | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partition = partition
        self.config = config
        self.costfile = costfile
        self.codec = codec or Codec()
        self.clock = clock
        self.window_ms = config.window_ms
        self.prices = costfile.prices
        self.calendar = Calendar(costfile.timezone)
        self.scopes = Scopes(costfile.rollups, costfile.budgets)
        self._used = tuple(n in self.scopes.used for n in ("tenant", "user", "use_case", "region"))
        self.alerts = AlertEmitter("cost", self.codec.encode, prometheus_count(metrics.ALERTS))
        self.ledger = Ledger(
            self.scopes,
            Calendar(costfile.timezone),
            self.codec,
            self.alerts,
            window_ms=config.window_ms,
            grace_ms=config.grace_ms,
            idle_ms=config.idle_ms,
            publish_interval_ms=config.publish_interval_ms,
            max_scopes=config.max_scopes,
            now_ms=int(clock() * 1000),
        )
        self.units: dict[tuple[str, str], Unit] = {}
        self.unpriced: dict[tuple[str, str, str], Unpriced] = {}
        # (model, version, tenant, user, use_case, region, window) -> totals + newest time
        self.spend: dict[tuple[Any, ...], list[Any]] = {}
        self.stream = StreamClock(config.idle_ms, int(clock() * 1000))
        self.hour_end = 0
        self.day = (0, 0)
        self._outputs: list[Output] = []
        self._changes: dict[bytes, bytes | None] = {}
        self._dirty_units: set[tuple[str, str]] = set()
        self._dirty_unpriced: set[tuple[str, str, str]] = set()
        self._time_dirty = False

    # -- restore -------------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None) -> None:
        kind = key[:1]
        if kind in (b"T", b"a", b"b"):
            self.ledger.restore(key, value)
        elif kind == b"t":
            if value is not None:
                data = json.loads(value)
                self.stream.stream_ms, self.hour_end = data["stream_ms"], data["hour_end"]
                self.day = tuple(data["day"])  # type: ignore[assignment]
        elif kind == b"u":
            model, version = json.loads(key[2:])
            if value is None:
                self.units.pop((model, version), None)
                return
            data = json.loads(value)
            unit = self._unit(model, version)
            unit.fleet.load(data["fleet"])
            unit.advice.load(data["advice"])
        elif kind == b"x":
            unpriced_key = tuple(json.loads(key[2:]))
            if value is None:
                self.unpriced.pop(unpriced_key, None)  # type: ignore[arg-type]
            else:
                self.unpriced[unpriced_key] = Unpriced.from_dict(json.loads(value))  # type: ignore[index]

    def restored(self) -> None:
        self.ledger.restored()

    # -- events --------------------------------------------------------------------------

    def _unit(self, model: str, version: str) -> Unit:
        unit = self.units.get((model, version))
        if unit is None:
            fleet = Fleet(
                self.window_ms, self.config.telemetry_ttl_ms, self.costfile.fleets.get(model)
            )
            unit = self.units[(model, version)] = Unit(fleet, UnitAdvice(self.costfile.advice))
        return unit

    def process(self, topic: str, record: dict[str, Any]) -> None:
        now_ms = int(self.clock() * 1000)
        if topic == SPEND_TOPIC:
            self.ledger.apply(record, now_ms)
            return
        t = record["event_time_ms"]
        if t > now_ms + self.config.max_future_ms:
            raise FutureEvent(
                f"event_time_ms {t} is {(t - now_ms) / 1000:.0f} s ahead of this service's "
                f"clock (limit WK_COST_MAX_FUTURE_S={self.config.max_future_ms / 1000:g})"
            )
        if topic == "predictions":
            self._prediction(record, t)
        else:
            self._telemetry(record, t)
        stream = self.stream
        stream.busy = True
        if t > stream.stream_ms:
            stream.stream_ms = t
            self._time_dirty = True
            if t >= self.hour_end:
                self._roll_hours(t, now_ms)

    def _prediction(self, record: dict[str, Any], t: int) -> None:
        model = record["model"]
        version = record["version"]
        key = (model, version)
        unit = self.units.get(key) or self._unit(model, version)
        self._dirty_units.add(key)
        llm = record["llm"]
        cost = record["cost_usd"]
        if cost is not None:
            source = _EXPLICIT
        elif llm is not None:
            source = _LLM
            provider = llm["provider_model"]
            cost = self.prices.cost(
                provider, t, llm["tokens_in"], llm["tokens_out"], llm["tokens_cached"]
            )
            if cost is None:
                self._unpriced(model, "llm", provider, self.prices.why_unpriced(provider, t), t)
            elif self.unpriced:
                self._priced(model, "llm", provider, t)
        else:
            source = _COMPUTE
            cost = unit.fleet.cost(record["latency_ms"], t)
            if cost is None:
                why = "no_instance_price" if unit.fleet.hosts else "no_telemetry"
                self._unpriced(model, "compute", "", why, t)
            elif self.unpriced:
                self._priced(model, "compute", "", t)

        window = t - t % self.window_ms
        used = self._used
        combo = (
            model,
            version,
            record["tenant"] if used[0] else None,
            record["user_id"] if used[1] else None,
            record["use_case"] if used[2] else None,
            record["region"] if used[3] else None,
            window,
        )
        acc = self.spend.get(combo)
        if acc is None:
            acc = self.spend[combo] = [0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, t]
        acc[0] += 1
        if cost is None:
            acc[1] += 1
        else:
            acc[2] += cost
            acc[source] += cost
        if llm is not None:
            acc[6] += llm["tokens_in"]
            acc[7] += llm["tokens_out"]
            acc[8] += llm["tokens_cached"]
        if t > acc[_NEWEST]:
            acc[_NEWEST] = t
        unit.advice.observe(
            window,
            t,
            record["user_id"] or record["tenant"],
            record["latency_ms"],
            record["status"] == "OK",
            cost,
            record["input_hash"],
            record["cache_hit"],
        )

    def _telemetry(self, record: dict[str, Any], t: int) -> None:
        model, version = record["model"], record["version"]
        unit = self._unit(model, version)
        price = record["hourly_price_usd"]
        if price is None and record["instance_type"] is not None:
            price = self.costfile.instances.get(record["instance_type"])
        unit.fleet.observe(record["pod"] or record["host"], price, record["replicas"] or 0, t)
        unit.advice.provisioned(unit.fleet.hourly_price(t))
        self._dirty_units.add((model, version))

    # -- requests that could not be priced ----------------------------------------------

    def _unpriced(self, model: str, pricing: str, source: str, reason: str, t: int) -> None:
        key = (model, pricing, source)
        state = self.unpriced.get(key)
        if state is None:
            state = self.unpriced[key] = Unpriced(t)
        state.count += 1
        state.reason = reason
        self._dirty_unpriced.add(key)
        metrics.UNPRICED.labels(model, reason).inc()
        # A missing LLM price is a gap in the price book: say so at once. Telemetry comes
        # every few seconds: give it the grace to arrive before calling it missing.
        if state.since_ms == 0 and (
            pricing == "llm" or t - state.first_ms >= self.config.unpriced_grace_ms
        ):
            state.since_ms = t
            self._outputs.append(
                unpriced_alert(self.alerts, key, state, "firing", t, int(self.clock() * 1000))
            )

    def _priced(self, model: str, pricing: str, source: str, t: int) -> None:
        key = (model, pricing, source)
        state = self.unpriced.get(key)
        if state is None:
            return
        if state.since_ms:
            self._outputs.append(
                unpriced_alert(self.alerts, key, state, "resolved", t, int(self.clock() * 1000))
            )
        del self.unpriced[key]
        self._dirty_unpriced.add(key)

    # -- hours and days: the advisors ----------------------------------------------------

    def _roll_hours(self, t: int, now_ms: int) -> None:
        if not self.hour_end or t - self.hour_end > 2 * DAY_MS:
            if self.hour_end:  # a long gap: close what was open, not every hour of it
                self._close_hour(self.hour_end - HOUR_MS)
                self._close_day(now_ms)
            self.hour_end = t - t % HOUR_MS + HOUR_MS
            self.day = self.calendar.day(t)
            return
        while self.hour_end <= t:
            self._close_hour(self.hour_end - HOUR_MS)
            if self.hour_end >= self.day[1]:
                self._close_day(now_ms)
                self.day = self.calendar.day(self.hour_end)
            self.hour_end += HOUR_MS

    def _close_hour(self, start: int) -> None:
        hour = self.calendar.hour_of_day(start)
        for key, unit in self.units.items():
            unit.advice.close_hour(hour, unit.fleet.hourly_price(start + HOUR_MS))
            self._dirty_units.add(key)

    def _close_day(self, now_ms: int) -> None:
        days: dict[str, dict[str, Any]] = {}
        for (model, version), unit in list(self.units.items()):
            day = unit.advice.close_day()
            days.setdefault(model, {})[version] = day
            if day.requests == 0 and not unit.fleet.hosts:
                del self.units[(model, version)]  # gone quiet: forget it
                self._dirty_units.discard((model, version))
                self._changes[f"u\x00{key_text((model, version))}".encode()] = None
        settings = self.costfile.advice
        if not settings.enabled:
            return
        for model, versions in days.items():
            found = [a for v, d in versions.items() for a in advise(model, v, d, settings)]
            for advice in found + cheaper_versions(model, versions, settings):
                self._advice(advice, now_ms)

    def _advice(self, advice: Advice, now_ms: int) -> None:
        record = advice.record(self.day, self.stream.stream_ms, now_ms)
        value = self.codec.encode("CostAdvice", record)
        self._outputs.append(Output("cost-advice", advice.model.encode(), value))
        metrics.ADVICE.labels(advice.kind).inc()
        metrics.SAVINGS.labels(advice.model, advice.version, advice.kind).set(advice.savings)

    # -- time ----------------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        # A quiet partition's clock follows the wall, so its hours and days close (and
        # without units there is nothing to close, nor a reason to log the time).
        if self.units and self.stream.advance_idle(now_ms):
            self._time_dirty = True
            if self.stream.stream_ms >= self.hour_end:
                self._roll_hours(self.stream.stream_ms, now_ms)
        self.ledger.tick(now_ms)

    # -- hand-off to the engine ----------------------------------------------------------

    def pending_output(self) -> bool:
        # Spend records ride with the next interval commit (they are made at the drain);
        # anything made before it waits for no interval: alerts and quotas must go at
        # once, and aggregates (at most one batch per publish interval) must go out even
        # when no more input comes to trigger a commit.
        return bool(self._outputs or self.ledger.outputs)

    def drain(self) -> tuple[list[Output], list[tuple[bytes, bytes | None]]]:
        now_ms = int(self.clock() * 1000)
        if self.spend:
            spend, self.spend = self.spend, {}
            self._outputs += spend_records(
                spend, self.scopes, self.window_ms, self.partition, self.codec, now_ms
            )
        for key in self._dirty_units:
            unit = self.units.get(key)
            if unit is not None:
                data = {"fleet": unit.fleet.to_dict(), "advice": unit.advice.to_dict()}
                self._changes[f"u\x00{key_text(key)}".encode()] = json.dumps(data).encode()
        for key in self._dirty_unpriced:
            state = self.unpriced.get(key)
            value = json.dumps(state.to_dict()).encode() if state is not None else None
            self._changes[f"x\x00{key_text(key)}".encode()] = value
        if self._time_dirty:
            data = {
                "stream_ms": self.stream.stream_ms,
                "hour_end": self.hour_end,
                "day": list(self.day),
            }
            self._changes[b"t"] = json.dumps(data).encode()
        self._dirty_units.clear()
        self._dirty_unpriced.clear()
        self._time_dirty = False
        self.ledger.drain_changes()
        outputs = self._outputs + self.ledger.outputs
        self._outputs, self.ledger.outputs = [], []
        changes = {**self._changes, **self.ledger.changes}
        self._changes, self.ledger.changes = {}, {}
        return outputs, list(changes.items())
