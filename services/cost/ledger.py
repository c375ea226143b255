"""The ledger: spend records (CostSpend) summed per scope over windows, calendar days and
months, and the budgets watching those scopes.

It is the second stage of cost. The first prices events on the partition of their model;
a budget for a tenant or a use case sums spend of many models, so the priced spend goes
through the ``cost-spend`` topic keyed by scope, and the ledger of the partition that key
lands on owns the scope. Both stages commit in the engine's transactions: a spend record is
counted once, whatever crashes.

Changelog records (JSON values):

=============================== ====================================================
key                             value
=============================== ====================================================
``a\\0<scope>\\0<kind>\\0<start>``  totals of one window, day or month of a scope
``b\\0<instance>``                a budget instance: period, spend, what fired
``T``                           the ledger's event time
=============================== ====================================================
"""

from __future__ import annotations

import json
from typing import Any

from watchkeeper.codec import Codec
from watchkeeper.kit import AlertEmitter, Output, StreamClock

from . import metrics, totals
from .budgets import BudgetState, Change, level_name, severity_of
from .periods import Calendar
from .scopes import Scopes, scope_key

KEEP = {"window": 3, "day": 2, "month": 13}  # periods held per scope (13 months: a trend)
PERIOD_ENUM = {"window": "WINDOW", "day": "DAY", "month": "MONTH"}
ROLL_CHECK_MS = 1_000


class ScopeTotals:
    def __init__(self, key: str, labels: dict[str, str], budgets: list[str]) -> None:
        self.key = key
        self.labels = labels
        self.budgets = budgets  # budget instances watching this scope
        self.periods: dict[str, dict[int, list[Any]]] = {k: {} for k in KEEP}


class Ledger:
    def __init__(
        self,
        scopes: Scopes,
        calendar: Calendar,
        codec: Codec,
        alerts: AlertEmitter,
        *,
        window_ms: int,
        grace_ms: int,
        idle_ms: int,
        publish_interval_ms: int,
        max_scopes: int,
        now_ms: int,
    ) -> None:
        self.scopes = scopes
        self.calendar = calendar
        self.codec = codec
        self.alerts = alerts
        self.window_ms = window_ms
        self.grace_ms = grace_ms
        self.publish_interval_ms = publish_interval_ms
        self.max_scopes = max_scopes
        self.budget_defs = {b.name: b for b in scopes.budgets}
        self.totals: dict[str, ScopeTotals] = {}
        self.budgets: dict[str, BudgetState] = {}
        self.stream = StreamClock(idle_ms, now_ms)
        self.outputs: list[Output] = []
        self.changes: dict[bytes, bytes | None] = {}
        self._unpublished: set[tuple[str, str, int]] = set()
        self._unsaved: set[tuple[str, str, int]] = set()
        self._dirty_budgets: set[str] = set()
        self._last_publish = 0
        self._last_roll_check = 0

    # -- scopes and budgets --------------------------------------------------------------

    def _scope(self, key: str, labels: dict[str, str]) -> ScopeTotals | None:
        found = self.totals.get(key)
        if found is not None:
            return found
        watching = self.scopes.budgets_of(labels)
        if len(self.totals) >= self.max_scopes and not watching:
            return None  # a budget's scope is always kept; a roll-up beyond the cap is not
        instances = []
        for budget in watching:
            instance = f"{budget.name}/{key}" if budget.per else budget.name
            if instance not in self.budgets:
                self.budgets[instance] = BudgetState(budget, instance, dict(labels))
            instances.append(instance)
        scope = self.totals[key] = ScopeTotals(key, dict(labels), instances)
        return scope

    # -- spend ---------------------------------------------------------------------------

    def apply(self, record: dict[str, Any], now_ms: int) -> None:
        """One CostSpend record."""
        scope = self._scope(record["scope"], record["labels"])
        stream = self.stream
        stream.busy = True
        t = record["event_time_ms"]
        if t > stream.stream_ms:
            stream.stream_ms = t
        if scope is None:
            metrics.SCOPES_CAPPED.inc()
            return
        delta = totals.from_fields(record)
        start = record["window_start_ms"]
        self._add(scope, "window", start, delta)
        self._add(scope, "day", self.calendar.day(start)[0], delta)
        self._add(scope, "month", self.calendar.month(start)[0], delta)
        for instance in scope.budgets:
            state = self.budgets[instance]
            changes = state.add(delta[totals.COST], t, self.calendar)
            if changes is None:
                metrics.LATE.labels("budget").inc(delta[totals.COST])
                continue
            self._dirty_budgets.add(instance)
            for change in changes:
                self._emit(state, change, now_ms)
            self._budget_gauges(state)

    def _add(self, scope: ScopeTotals, kind: str, start: int, delta: list[Any]) -> None:
        held = scope.periods[kind]
        figures = held.get(start)
        if figures is None:
            if len(held) >= KEEP[kind] and start < min(held):
                metrics.LATE.labels(kind).inc(delta[totals.COST])
                return
            figures = held[start] = totals.new()
            while len(held) > KEEP[kind]:
                oldest = min(held)
                del held[oldest]
                self.changes[self._period_key(scope.key, kind, oldest)] = None
                self._unpublished.discard((scope.key, kind, oldest))
                self._unsaved.discard((scope.key, kind, oldest))
        totals.add(figures, delta)
        self._unpublished.add((scope.key, kind, start))
        self._unsaved.add((scope.key, kind, start))

    @staticmethod
    def _period_key(scope: str, kind: str, start: int) -> bytes:
        return f"a\x00{scope}\x00{kind}\x00{start}".encode()

    # -- alerts and quotas ---------------------------------------------------------------

    def _emit(self, state: BudgetState, change: Change, now_ms: int) -> None:
        budget = state.budget
        firing = change.status == "firing"
        # A resolution belongs to the period that just ended, not the one begun.
        period = self.calendar.label(budget.period, change.at_ms - (0 if firing else 1))
        labels = {**budget.labels, **state.labels, "budget": budget.name}
        if change.name == "quota":
            labels.update(alertname="QuotaExceeded", severity="page")
        elif change.name == "forecast":
            labels.update(alertname="BudgetForecastOverrun", severity="warning")
        else:
            level = next(x for x in budget.levels if level_name(x) == change.name)
            labels.update(alertname="BudgetOverrun", severity=severity_of(level), level=change.name)
        summary = _summary(state, change, period)
        annotations = {"summary": summary, "period": period, "budget_usd": f"{budget.amount:.2f}"}
        self.outputs.append(
            self.alerts.emit(
                labels,
                change.status,
                annotations=annotations,
                value=change.value,
                threshold=change.threshold if firing else None,
                starts_at_ms=change.since_ms,
                now_ms=now_ms,
                ends_at_ms=None if firing else change.at_ms,
            )
        )
        if change.name == "quota":
            self._quota(state, firing, change.at_ms, now_ms)

    def _quota(self, state: BudgetState, exceeded: bool, at_ms: int, now_ms: int) -> None:
        budget = state.budget
        record = {
            "instance": state.instance,
            "budget": budget.name,
            "labels": state.labels,
            "state": "EXCEEDED" if exceeded else "OK",
            "period": self.calendar.label(budget.period, state.period_start),
            "period_start_ms": state.period_start,
            "period_end_ms": state.period_end,
            "spend_usd": state.spend,
            "cap_usd": budget.cap or 0.0,
            "budget_usd": budget.amount,
            "event_time_ms": at_ms,
            "emitted_at_ms": now_ms,
            "generator": "cost",
        }
        value = self.codec.encode("QuotaState", record)
        self.outputs.append(Output("cost-quotas", state.instance.encode(), value))
        metrics.QUOTA.labels(state.instance).set(1 if exceeded else 0)

    def _budget_gauges(self, state: BudgetState) -> None:
        t = max(self.stream.stream_ms, state.last_ms)
        metrics.BUDGET_SPEND.labels(state.instance).set(state.spend)
        metrics.BUDGET_PLAN.labels(state.instance).set(state.plan(t))
        metrics.BUDGET_FORECAST.labels(state.instance).set(state.forecast(t))
        metrics.BUDGET_AMOUNT.labels(state.instance).set(state.budget.amount)

    # -- time ----------------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        if self.totals:
            self.stream.advance_idle(now_ms)
        if now_ms - self._last_roll_check >= ROLL_CHECK_MS:
            self._last_roll_check = now_ms
            self._roll_budgets(now_ms)
        if self._unpublished and now_ms - self._last_publish >= self.publish_interval_ms:
            self._last_publish = now_ms
            self._publish(now_ms)

    def _roll_budgets(self, now_ms: int) -> None:
        """Periods end by event time even when their scope spends nothing more."""
        stream_ms = self.stream.stream_ms
        for instance, state in self.budgets.items():
            if state.period_end and stream_ms >= state.period_end + self.grace_ms:
                changes = state.roll(stream_ms, self.calendar)
                for change in changes:
                    self._emit(state, change, now_ms)
                self._dirty_budgets.add(instance)
                self._budget_gauges(state)

    def _publish(self, now_ms: int) -> None:
        for scope_id, kind, start in sorted(self._unpublished):
            scope = self.totals.get(scope_id)
            figures = scope.periods[kind].get(start) if scope else None
            if scope is None or figures is None:
                continue
            self.outputs.append(self._aggregate(scope, kind, start, figures, now_ms))
        self._unpublished.clear()

    def _aggregate(
        self, scope: ScopeTotals, kind: str, start: int, figures: list[Any], now_ms: int
    ) -> Output:
        period_end = self.calendar.period(kind, start)[1] if kind != "window" else 0
        end = period_end or start + self.window_ms
        previous = trend = None
        if kind == "month":
            previous_figures = scope.periods["month"].get(self.calendar.month(start - 1)[0])
            if previous_figures is not None:
                previous = previous_figures[totals.COST]
                elapsed = (min(max(self.stream.stream_ms, start), end) - start) / (end - start)
                if previous > 0 and elapsed > 0:
                    trend = figures[totals.COST] / elapsed / previous - 1.0
                    metrics.TREND.labels(scope.key).set(trend)
        per_inference = totals.cost_per_inference(figures)
        if start == max(scope.periods[kind]):
            metrics.PERIOD_COST.labels(scope.key, kind).set(figures[totals.COST])
            if per_inference is not None:
                metrics.PER_INFERENCE.labels(scope.key, kind).set(per_inference)
        record = {
            "scope": scope.key,
            "labels": scope.labels,
            "period": PERIOD_ENUM[kind],
            "period_start_ms": start,
            "period_end_ms": end,
            "timezone": self.calendar.tz,
            **totals.as_fields(figures),
            "cost_per_inference_usd": per_inference,
            "previous_cost_usd": previous,
            "trend": trend,
            "event_time_ms": self.stream.stream_ms,
            "emitted_at_ms": now_ms,
            "producer": "cost",
        }
        key = f"{scope.key}|{kind}|{start}".encode()
        return Output("cost-aggregates", key, self.codec.encode("CostAggregate", record))

    # -- changelog -----------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None) -> None:
        """One changelog record whose key starts with ``T``, ``a`` or ``b``."""
        kind = key[:1]
        if kind == b"T":
            self.stream.load(value)
        elif kind == b"a":
            # The scope is split off from the right: label values may hold anything.
            scope_raw, period_raw, start_raw = key[2:].rsplit(b"\x00", 2)
            scope_id, period, start = scope_raw.decode(), period_raw.decode(), int(start_raw)
            if value is None:  # evicted
                held = self.totals.get(scope_id)
                if held is not None:
                    held.periods[period].pop(start, None)
                return
            data = json.loads(value)
            scope = self._scope(scope_id, data["labels"])
            if scope is not None:
                scope.periods[period][start] = data["t"]
        elif kind == b"b" and value is not None:
            data = json.loads(value)
            budget = self.budget_defs.get(data["budget"])
            if budget is None:
                return  # removed from the cost file since
            instance = key[2:].decode()
            state = self.budgets.get(instance)
            if state is None:
                state = self.budgets[instance] = BudgetState(budget, instance, data["labels"])
            state.load(data["state"])

    def restored(self) -> None:
        """Evicted periods may have been restored before their tombstone was compacted."""
        for scope in self.totals.values():
            for kind, held in scope.periods.items():
                for start in sorted(held)[: -KEEP[kind]]:
                    del held[start]

    def drain_changes(self) -> None:
        for scope_id, kind, start in self._unsaved:
            scope = self.totals.get(scope_id)
            figures = scope.periods[kind].get(start) if scope else None
            if scope is None or figures is None:
                continue
            value = json.dumps({"labels": scope.labels, "t": figures}).encode()
            self.changes[self._period_key(scope_id, kind, start)] = value
        for instance in self._dirty_budgets:
            state = self.budgets[instance]
            data = {"budget": state.budget.name, "labels": state.labels, "state": state.to_dict()}
            self.changes[f"b\x00{instance}".encode()] = json.dumps(data).encode()
        if self._unsaved or self._dirty_budgets:
            self.changes[b"T"] = self.stream.record()
        self._unsaved.clear()
        self._dirty_budgets.clear()


def usd(amount: float) -> str:
    """Dollars as people read them, cents not lost on small budgets.

    >>> usd(1234.5), usd(0.0039683)
    ('$1,234.50', '$0.003968')
    """
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4g}"


def _summary(state: BudgetState, change: Change, period: str) -> str:
    budget = state.budget
    where = f"{budget.name} ({scope_key(state.labels)})"
    if change.status != "firing":
        return f"{where}: {period} ended at {usd(change.value)}"
    if change.name == "quota":
        return (
            f"{where}: {usd(change.value)} reached the cap {usd(change.threshold)} for "
            f"{period}; refuse its requests until the period ends"
        )
    if change.name == "forecast":
        return (
            f"{where}: at the current burn rate {period} ends at {usd(change.value)}, over "
            f"the budget of {usd(budget.amount)}"
        )
    plan = state.plan(change.at_ms)
    if plan <= 0:  # spend at the very first instant of the period, with no warm-up
        return f"{where}: {usd(change.value)} spent as {period} began (line {change.name})"
    return (
        f"{where}: {usd(change.value)} spent in {period} is "
        f"{change.value / plan - 1:+.0%} over the prorated plan of {usd(plan)} "
        f"(line {change.name}, budget {usd(budget.amount)})"
    )
