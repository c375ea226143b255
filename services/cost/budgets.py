"""Budgets: a monthly or daily amount for some scope, checked against a prorated plan.

The plan grows linearly over the period: ten days into a 30-day month, a $3,000 budget
plans $1,000. Spend is compared with it at every addition:

* ``BudgetOverrun`` fires when spend passes the plan by each configured level (+10 %,
  +25 %, +50 % by default), each level at most once per period;
* ``BudgetForecastOverrun`` fires when the period-end forecast passes the budget:
  forecast = spend + burn rate x time left, the burn rate being the spend over a trailing
  ``burn_window`` (1 day for months, 1 hour for days). A steady overspend shows in the
  forecast before it shows against the plan, since the plan still carries the cheap past;
* with a ``cap``, the ``QuotaExceeded`` alert and an EXCEEDED quota state once spend
  reaches the cap (absolute, not prorated).

The first ``warmup`` of a period (1 day, 1 hour) raises no level or forecast alert: an hour
into the month the plan is a few dollars and any request would "overrun" it. Everything
that fired resolves when the period ends, and the quota is OK again.

>>> from services.cost.periods import Calendar
>>> calendar, t0 = Calendar("UTC"), 1_764_547_200_000  # 2025-12-01: a 31-day month
>>> state = BudgetState(Budget("chat", "month", 3100.0), "chat", {})  # plans $100 a day
>>> fired = []
>>> for hour in range(10 * 24):  # $105 a day: +5 %, under every line, but the forecast
...     # (at hour 24, once warm: $109 spent, then $105 a day for 30 days) is over
...     fired += state.add(105 / 24, t0 + hour * HOUR_MS, calendar)
>>> [(c.name, c.at_ms // HOUR_MS - t0 // HOUR_MS, round(c.value)) for c in fired]
[('forecast', 24, 3259)]
>>> for hour in range(2 * 24):  # then two days at $300 a day: plan x 1.1 at hour 245 is 1123
...     fired += state.add(300 / 24, t0 + (240 + hour) * HOUR_MS, calendar)
>>> [(c.name, c.at_ms // HOUR_MS - t0 // HOUR_MS, round(c.value)) for c in fired[1:]]
[('+10%', 245, 1125), ('+25%', 266, 1388)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .periods import DAY_MS, HOUR_MS, Calendar

DAY = DAY_MS
BUCKETS = 24  # burn-rate resolution: a trailing day in hours, a trailing hour in 2.5 min
SCOPE_LABELS = ("model", "version", "tenant", "user", "use_case", "region")


def level_name(level: float) -> str:
    """
    >>> level_name(0.1), level_name(0.255)
    ('+10%', '+25.5%')
    """
    return f"+{level * 100:g}%"


def severity_of(level: float) -> str:
    return "warning" if level < 0.25 else "ticket" if level < 0.5 else "page"


@dataclass(frozen=True)
class Budget:
    name: str
    period: str  # month | day
    amount: float
    match: dict[str, str] = field(default_factory=dict)
    per: tuple[str, ...] = ()  # one budget per value of these labels
    levels: tuple[float, ...] = (0.10, 0.25, 0.50)
    cap: float | None = None  # USD per period; reaching it exceeds the quota
    forecast: bool = True
    forecast_over: float = 0.0  # warn when the forecast passes amount x (1 + this)
    burn_window_ms: int = DAY
    warmup_ms: int = DAY
    labels: dict[str, str] = field(default_factory=dict)  # added to its alerts
    line: int = 0

    def applies(self, labels: dict[str, str | None]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items()) and all(
            labels.get(k) is not None for k in self.per
        )

    def scope_labels(self, labels: dict[str, str | None]) -> dict[str, str]:
        """The labels of the scope this budget watches for an event with ``labels``."""
        scope = dict(self.match)
        for key in self.per:
            scope[key] = labels[key]  # type: ignore[assignment]
        return scope

    @staticmethod
    def defaults(period: str) -> tuple[int, int]:
        """(burn window, warmup) in ms for a period kind."""
        return (DAY_MS, DAY_MS) if period == "month" else (HOUR_MS, HOUR_MS)


@dataclass(frozen=True)
class Change:
    """An alert (or quota) state change of one budget instance."""

    name: str  # '+10%' ..., 'forecast', 'quota'
    status: str  # firing | resolved
    value: float
    threshold: float
    at_ms: int  # event time
    since_ms: int  # when it started firing


class BudgetState:
    """One budget instance (a budget, or one value of its ``per`` labels) in its period."""

    def __init__(self, budget: Budget, instance: str, labels: dict[str, str]) -> None:
        self.budget = budget
        self.instance = instance
        self.labels = labels
        self.period_start = 0
        self.period_end = 0
        self.spend = 0.0
        self.fired: dict[str, int] = {}  # level name, forecast, quota -> event time it fired
        self.quota = False  # exceeded in this period
        self.buckets: dict[int, float] = {}  # bucket index in the period -> spend
        self.last_ms = 0

    # -- figures -----------------------------------------------------------------------

    @property
    def bucket_ms(self) -> int:
        return max(1, self.budget.burn_window_ms // BUCKETS)

    def plan(self, t_ms: int) -> float:
        length = self.period_end - self.period_start
        elapsed = min(max(t_ms - self.period_start, 0), length)
        return self.budget.amount * elapsed / length

    def burn_rate(self, t_ms: int) -> float:
        """USD per ms over the complete buckets of the trailing burn window (never before
        the period began). The open bucket is left out: it would make the rate jump with
        every record, and a single large one would look like a whole bucket's pace."""
        size = self.bucket_ms
        current = (t_ms - self.period_start) // size
        first = max(0, current - BUCKETS)
        if current > first:
            spent = sum(v for i, v in self.buckets.items() if first <= i < current)
            return spent / ((current - first) * size)
        span = t_ms - self.period_start  # within the first bucket: all there is
        return self.buckets.get(0, 0.0) / span if span > 0 else 0.0

    def forecast(self, t_ms: int) -> float:
        return self.spend + self.burn_rate(t_ms) * max(self.period_end - t_ms, 0)

    # -- changes -----------------------------------------------------------------------

    def roll(self, t_ms: int, calendar: Calendar) -> list[Change]:
        """Start the period holding ``t_ms`` if the current one ended: resolve what fired."""
        if t_ms < self.period_end:
            return []
        changes = [
            Change(name, "resolved", self.spend, 0.0, self.period_end, since)
            for name, since in self.fired.items()
        ]
        self.period_start, self.period_end = calendar.period(self.budget.period, t_ms)
        self.spend = 0.0
        self.fired = {}
        self.quota = False
        self.buckets = {}
        return changes

    def add(self, usd: float, t_ms: int, calendar: Calendar) -> list[Change] | None:
        """Add spend at event time ``t_ms``; None when it belongs to a period already closed."""
        if t_ms < self.period_start:
            return None
        changes = self.roll(t_ms, calendar)
        self.spend += usd
        self.last_ms = max(self.last_ms, t_ms)
        index = (t_ms - self.period_start) // self.bucket_ms
        self.buckets[index] = self.buckets.get(index, 0.0) + usd
        if len(self.buckets) > 2 * BUCKETS:
            oldest = index - 2 * BUCKETS
            self.buckets = {i: v for i, v in self.buckets.items() if i > oldest}
        return changes + self.evaluate(max(t_ms, self.last_ms))

    def evaluate(self, t_ms: int) -> list[Change]:
        budget = self.budget
        changes = []
        if budget.cap is not None and not self.quota and self.spend >= budget.cap:
            self.quota = True
            self.fired["quota"] = t_ms
            changes.append(Change("quota", "firing", self.spend, budget.cap, t_ms, t_ms))
        if t_ms - self.period_start < budget.warmup_ms:
            return changes
        if budget.forecast and "forecast" not in self.fired:
            forecast = self.forecast(t_ms)
            limit = budget.amount * (1.0 + budget.forecast_over)
            if forecast > limit:
                self.fired["forecast"] = t_ms
                changes.append(Change("forecast", "firing", forecast, limit, t_ms, t_ms))
        plan = self.plan(t_ms)
        for level in budget.levels:
            name = level_name(level)
            line = plan * (1.0 + level)
            if name not in self.fired and self.spend > line:
                self.fired[name] = t_ms
                changes.append(Change(name, "firing", self.spend, line, t_ms, t_ms))
        return changes

    # -- changelog ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": [self.period_start, self.period_end],
            "spend": self.spend,
            "fired": self.fired,
            "quota": self.quota,
            "buckets": self.buckets,
            "last": self.last_ms,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.period_start, self.period_end = data["period"]
        self.spend = data["spend"]
        self.fired = data["fired"]
        self.quota = data["quota"]
        self.buckets = {int(i): v for i, v in data["buckets"].items()}
        self.last_ms = data["last"]
