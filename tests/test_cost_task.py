"""The cost task without Kafka: both stages on one partition, the spend records looped
back as the cost-spend topic would, a fake clock, and restores from the changelog."""

from __future__ import annotations

from typing import Any

import pytest

from services.cost.config import CostConfig
from services.cost.costfile import load_text, parse
from services.cost.pricing import InvalidUsage
from services.cost.task import CostTask, FutureEvent
from watchkeeper.codec import Codec
from watchkeeper.settings import ServiceSettings

CODEC = Codec()
DEC_1 = 1_764_547_200_000  # 2025-12-01 00:00 UTC
HOUR = 3_600_000
DAY = 24 * HOUR
SCHEMAS = {
    "alerts": "Alert",
    "cost-aggregates": "CostAggregate",
    "cost-quotas": "QuotaState",
    "cost-advice": "CostAdvice",
    "cost-spend": "CostSpend",
}
PRICES = """
llm:
  gem:
    input: 1.25
    output: 10.0
    cached: 0.3125
    tiers: [{above: 200000, input: 2.5, output: 15.0, cached: 0.625}]
"""


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000.0


class Harness:
    """A task, its clock, and what it published, decoded by topic."""

    def __init__(self, yaml: str = PRICES, clock_ms: int = DEC_1 + 60 * DAY, **config: Any):
        self.costfile = parse(load_text(yaml, "cost.yaml"))
        defaults = {"publish_interval_ms": 0, "idle_ms": 10**12, "unpriced_grace_ms": 60_000}
        self.config = CostConfig(
            service=ServiceSettings(name="cost"), file_path="-", **{**defaults, **config}
        )
        self.clock = Clock(clock_ms)
        self.task = self.new_task()
        self.published: dict[str, list[dict]] = {topic: [] for topic in SCHEMAS}
        self.changelog: dict[bytes, bytes | None] = {}

    def new_task(self) -> CostTask:
        return CostTask(0, self.config, self.costfile, CODEC, self.clock)

    def send(self, *records: dict, topic: str = "predictions") -> None:
        for record in records:
            self.task.process(topic, record)

    def commit(self) -> None:
        """What the engine does at a commit, with cost-spend read back at once."""
        for _ in range(2):  # spend records, then what the ledger made of them
            outputs, changes = self.task.drain()
            self.changelog.update(changes)
            for out in outputs:
                record = CODEC.decode_as(SCHEMAS[out.topic], out.value)
                self.published[out.topic].append(record)
                if out.topic == "cost-spend":
                    self.task.process("cost-spend", record)
            self.task.tick(self.clock.ms)

    def restart(self) -> None:
        """A new task rebuilt from the changelog, as after a crash."""
        self.task = self.new_task()
        for key, value in self.changelog.items():
            self.task.restore(key, value)
        self.task.restored()

    def alerts(self, name: str | None = None) -> list[dict]:
        return [a for a in self.published["alerts"] if name in (None, a["labels"]["alertname"])]

    def latest(self, scope: str, period: str) -> dict:
        found = [
            a
            for a in self.published["cost-aggregates"]
            if (a["scope"], a["period"]) == (scope, period)
        ]
        return max(found, key=lambda a: (a["period_start_ms"], a["requests"]))


def prediction(t_ms: int, model: str = "chat", version: str = "1", **extra: Any) -> dict:
    return {
        "event_id": f"e{t_ms}",
        "event_time_ms": t_ms,
        "model": model,
        "version": version,
        "variant": "default",
        "region": None,
        "tenant": None,
        "user_id": None,
        "use_case": None,
        "latency_ms": 100.0,
        "status": "OK",
        "llm": None,
        "cost_usd": None,
        "cache_hit": False,
        "input_hash": None,
        **extra,
    }


def telemetry(t_ms: int, model: str = "chat", version: str = "1", **extra: Any) -> dict:
    return {
        "event_time_ms": t_ms,
        "host": "node-1",
        "pod": None,
        "model": model,
        "version": version,
        "replicas": None,
        "instance_type": None,
        "hourly_price_usd": 3.6,
        **extra,
    }


def llm(tokens_in: int, tokens_out: int, cached: int = 0, provider: str = "gem") -> dict:
    return {
        "provider_model": provider,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "tokens_cached": cached,
    }


# -- pricing -----------------------------------------------------------------------------


def test_tiered_and_cached_prices_sum_exactly_per_scope() -> None:
    h = Harness()
    h.send(
        prediction(DEC_1 + 1_000, llm=llm(1_000, 200), tenant="acme"),
        prediction(DEC_1 + 2_000, llm=llm(250_000, 1_000, 50_000), tenant="acme"),
        prediction(DEC_1 + 3_000, llm=llm(8_000, 500, 6_000), tenant="globex"),
    )
    h.commit()
    by_hand = {
        "acme": (1_000 * 1.25 + 200 * 10) / 1e6
        + (200_000 * 2.5 + 50_000 * 0.625 + 1_000 * 15) / 1e6,
        "globex": (2_000 * 1.25 + 6_000 * 0.3125 + 500 * 10) / 1e6,
    }
    for tenant, expected in by_hand.items():
        month = h.latest(f"tenant={tenant}", "MONTH")
        assert month["cost_usd"] == pytest.approx(expected, rel=1e-12)
        assert month["llm_cost_usd"] == month["cost_usd"]
    model = h.latest("model=chat", "DAY")
    assert model["cost_usd"] == pytest.approx(sum(by_hand.values()), rel=1e-12)
    assert (model["tokens_in"], model["tokens_out"], model["tokens_cached"]) == (
        259_000,
        1_700,
        56_000,
    )
    assert model["cost_per_inference_usd"] == pytest.approx(sum(by_hand.values()) / 3)


def test_an_explicit_cost_wins_over_tokens_and_compute() -> None:
    h = Harness()
    h.send(telemetry(DEC_1), topic="telemetry")
    h.send(prediction(DEC_1 + 1, llm=llm(1_000_000, 0), cost_usd=0.25))
    h.send(prediction(DEC_1 + 2, cost_usd=0.5))
    h.commit()
    day = h.latest("all", "DAY")
    assert (day["cost_usd"], day["explicit_cost_usd"], day["llm_cost_usd"]) == (0.75, 0.75, 0.0)
    assert day["tokens_in"] == 1_000_000  # usage is still counted


def test_compute_is_priced_from_telemetry() -> None:
    h = Harness()
    h.send(telemetry(DEC_1, hourly_price_usd=None, instance_type="m6i.xlarge"), topic="telemetry")
    h.costfile.instances["m6i.xlarge"] = 0.36  # $0.0001 a second
    h.send(
        telemetry(DEC_1 + 1, instance_type="m6i.xlarge", hourly_price_usd=None), topic="telemetry"
    )
    h.send(*(prediction(DEC_1 + 1_000 + i, latency_ms=2_000.0) for i in range(10)))
    h.commit()
    day = h.latest("model=chat", "DAY")
    assert day["compute_cost_usd"] == pytest.approx(10 * 2 * 0.0001, rel=1e-12)
    assert day["unpriced"] == 0


# -- what cannot be priced ---------------------------------------------------------------


def test_unknown_provider_model_is_counted_and_alerted_once_then_resolved() -> None:
    h = Harness()
    h.send(*(prediction(DEC_1 + i, llm=llm(100, 10, provider="gpt-9")) for i in range(50)))
    h.send(*(prediction(DEC_1 + 100 + i, llm=llm(100, 10)) for i in range(5)))
    h.commit()
    (alert,) = h.alerts("CostUnpriced")
    assert alert["status"] == "FIRING"
    assert alert["labels"]["provider_model"] == "gpt-9"
    assert alert["annotations"]["reason"] == "unknown_provider_model"
    day = h.latest("model=chat", "DAY")
    assert (day["requests"], day["unpriced"]) == (55, 50)
    assert day["cost_per_inference_usd"] == pytest.approx(day["cost_usd"] / 5)
    # The price book is fixed and the service restarted: the next priced call resolves it.
    h.costfile.prices.llm["gpt-9"] = h.costfile.prices.llm["gem"]
    h.restart()
    h.send(prediction(DEC_1 + 10_000, llm=llm(100, 10, provider="gpt-9")))
    h.commit()
    assert [a["status"] for a in h.alerts("CostUnpriced")] == ["FIRING", "RESOLVED"]


def test_missing_telemetry_alerts_after_its_grace_and_never_prices_as_zero() -> None:
    h = Harness(unpriced_grace_ms=60_000)
    h.send(*(prediction(DEC_1 + i * 1_000) for i in range(60)))  # 59 s: within the grace
    h.commit()
    assert h.alerts() == []
    h.send(prediction(DEC_1 + 60_000))
    h.commit()
    (alert,) = h.alerts("CostUnpriced")
    assert (alert["labels"]["pricing"], alert["annotations"]["reason"]) == (
        "compute",
        "no_telemetry",
    )
    assert alert["value"] == 61.0
    h.send(telemetry(DEC_1 + 61_000), topic="telemetry")
    h.send(prediction(DEC_1 + 62_000))
    h.commit()
    assert [a["status"] for a in h.alerts("CostUnpriced")] == ["FIRING", "RESOLVED"]
    day = h.latest("all", "DAY")
    assert (day["requests"], day["unpriced"], day["cost_usd"] > 0) == (62, 61, True)


def test_cached_tokens_beyond_the_prompt_raise_for_the_dead_letter_topic() -> None:
    h = Harness()
    with pytest.raises(InvalidUsage):
        h.send(prediction(DEC_1, llm=llm(10, 1, 11)))
    h.commit()
    assert h.published["cost-spend"] == []  # nothing of it was counted


def test_an_event_far_in_the_future_is_refused() -> None:
    h = Harness(clock_ms=DEC_1)
    with pytest.raises(FutureEvent):
        h.send(prediction(DEC_1 + 3_600_000, cost_usd=1.0))


# -- budgets -----------------------------------------------------------------------------

BUDGETS = """
budgets:
  - {name: chat, match: {model: chat}, monthly: 3100, cap: 200%, labels: {team: llm}}
  - {name: tenants, per: [tenant], daily: 10, cap: 12, forecast: false}
"""


def test_a_month_of_overspend_fires_each_line_once_and_the_forecast_first() -> None:
    h = Harness(BUDGETS)
    for hour in range(31 * 24 + 2):  # $105 a day for 10 days, then $290 a day
        h.send(prediction(DEC_1 + hour * HOUR + 1, cost_usd=(105 if hour < 240 else 290) / 24))
        h.commit()
    fired = [
        (a["labels"]["alertname"], a["labels"].get("level"), (a["starts_at_ms"] - DEC_1) // HOUR)
        for a in h.alerts()
        if a["status"] == "FIRING"
    ]
    # The plan is $3100 x h / 744 after h hours; from hour 240 the spend is
    # 1050 + 290/24 x (h - 239): it passes the plan x 1.1 after h = 245.05, x 1.25 after
    # 267.3, x 1.5 after 315.07, and the $6200 cap at h = 666. The forecast (a steady
    # +5 % at $105 a day) warns as soon as the one-day warm-up is over.
    assert fired == [
        ("BudgetForecastOverrun", None, 24),
        ("BudgetOverrun", "+10%", 246),
        ("BudgetOverrun", "+25%", 268),
        ("BudgetOverrun", "+50%", 316),
        ("QuotaExceeded", None, 666),
    ]
    assert {a["labels"]["team"] for a in h.alerts()} == {"llm"}
    resolved = [a for a in h.alerts() if a["status"] == "RESOLVED"]
    assert len(resolved) == 5
    assert {a["ends_at_ms"] for a in resolved} == {DEC_1 + 31 * DAY}
    quotas = [(q["state"], q["period"]) for q in h.published["cost-quotas"]]
    assert quotas == [("EXCEEDED", "2025-12"), ("OK", "2026-01")]


def test_a_budget_per_tenant_keeps_one_state_and_quota_per_tenant() -> None:
    h = Harness(BUDGETS)
    for i in range(13):
        h.send(prediction(DEC_1 + i * 1_000, tenant="acme", cost_usd=1.0))
        h.send(prediction(DEC_1 + i * 1_000, tenant="globex", cost_usd=0.5))
        h.commit()  # the ledger sees spend commit by commit
    (quota,) = h.published["cost-quotas"]
    assert (quota["instance"], quota["labels"], quota["spend_usd"]) == (
        "tenants/tenant=acme",
        {"tenant": "acme"},
        12.0,
    )
    assert {a["labels"]["tenant"] for a in h.alerts("QuotaExceeded")} == {"acme"}


def test_a_quiet_scope_still_ends_its_period_by_event_time() -> None:
    h = Harness(BUDGETS, grace_ms=60_000)
    h.send(*(prediction(DEC_1 + i, tenant="acme", cost_usd=1.0) for i in range(12)))
    h.commit()
    assert [q["state"] for q in h.published["cost-quotas"]] == ["EXCEEDED"]
    # Only another tenant spends the next day: acme's day ends anyway, one grace later.
    h.send(prediction(DEC_1 + DAY + 30_000, tenant="globex", cost_usd=0.1))
    h.commit()
    assert len(h.published["cost-quotas"]) == 1
    h.send(prediction(DEC_1 + DAY + 61_000, tenant="globex", cost_usd=0.1))
    h.clock.ms += 2_000  # the ledger looks at its budgets once a second
    h.commit()
    assert [q["state"] for q in h.published["cost-quotas"]] == ["EXCEEDED", "OK"]


def test_a_restored_task_does_not_take_its_backlog_for_a_quiet_partition() -> None:
    h = Harness(BUDGETS, idle_ms=30_000)  # the clock is 60 days past these events
    h.send(*(prediction(DEC_1 + i, tenant="acme", cost_usd=1.0) for i in range(12)))
    h.commit()
    h.restart()
    h.commit()
    h.send(prediction(DEC_1 + 100, tenant="acme", cost_usd=1.0))
    h.commit()
    assert h.task.ledger.budgets["tenants/tenant=acme"].spend == 13.0  # not late
    assert [q["state"] for q in h.published["cost-quotas"]] == ["EXCEEDED"]
    h.clock.ms += 31_000  # now it is quiet: event time follows the wall, the day ends
    h.commit()
    assert [q["state"] for q in h.published["cost-quotas"]] == ["EXCEEDED", "OK"]


# -- aggregates and the trend ------------------------------------------------------------


def test_month_over_month_trend_compares_run_rates() -> None:
    h = Harness()
    h.send(prediction(DEC_1 + DAY, cost_usd=310.0))  # December: $310
    jan_1 = DEC_1 + 31 * DAY
    h.send(prediction(jan_1 + 1_000, cost_usd=50.0))
    h.send(prediction(jan_1 + 31 * DAY // 4, cost_usd=50.0))  # a quarter into January
    h.commit()
    january = h.latest("all", "MONTH")
    assert january["previous_cost_usd"] == 310.0
    # $100 in a quarter of the month: a run rate of $400, +29 % on December
    assert january["trend"] == pytest.approx(400 / 310 - 1, rel=1e-6)
    windows = [a for a in h.published["cost-aggregates"] if a["period"] == "WINDOW"]
    assert {w["period_end_ms"] - w["period_start_ms"] for w in windows} == {60_000}


# -- exactly once through the changelog --------------------------------------------------


def test_a_restore_from_the_changelog_continues_the_same_sums() -> None:
    h = Harness(BUDGETS)
    for hour in range(300):
        h.send(prediction(DEC_1 + hour * HOUR, tenant="acme", cost_usd=0.125))
        if hour % 7 == 0:
            h.commit()
    h.commit()
    fired_before = len(h.alerts())
    h.restart()
    for hour in range(300, 400):
        h.send(prediction(DEC_1 + hour * HOUR, tenant="acme", cost_usd=0.125))
    h.commit()
    month = h.latest("tenant=acme", "MONTH")
    assert (month["requests"], month["cost_usd"]) == (400, 50.0)
    chat = h.task.ledger.budgets["chat"]
    assert chat.spend == 50.0
    # The restored budget does not fire again what had fired before the restart.
    names = [(a["labels"]["alertname"], a["labels"].get("level")) for a in h.alerts()]
    assert len(names) == len(set(names)) and len(names) >= fired_before


# -- advice ------------------------------------------------------------------------------

ADVICE = """
advice: {min_requests: 100, min_idle_hours: 3, burst_requests: 20}
"""


def test_a_day_of_traffic_yields_advice_when_the_day_closes() -> None:
    h = Harness(ADVICE)
    for hour in range(24):
        h.send(telemetry(DEC_1 + hour * HOUR, version="big"), topic="telemetry")
        h.send(telemetry(DEC_1 + hour * HOUR, version="small"), topic="telemetry")
        if hour < 6:
            continue  # nights are idle
        for i in range(60):
            t = DEC_1 + hour * HOUR + i * 1_000
            h.send(
                prediction(t, version="big", cost_usd=0.01, user_id="etl", input_hash=f"q{i % 30}"),
                prediction(t, version="small", cost_usd=0.004, user_id=f"u{i}", latency_ms=90.0),
            )
    h.send(telemetry(DEC_1 + DAY + 1, version="big"), topic="telemetry")
    h.commit()
    advice = {(a["kind"], a["version"]) for a in h.published["cost-advice"]}
    assert advice == {
        ("SCALE_TO_ZERO", "big"),
        ("SCALE_TO_ZERO", "small"),
        ("MOVE_TO_BATCH", "big"),
        ("RESULT_CACHE", "big"),
        ("CHEAPER_VERSION", "big"),
    }
    idle = next(a for a in h.published["cost-advice"] if a["kind"] == "SCALE_TO_ZERO")
    assert idle["savings_usd"] == pytest.approx(6 * 3.6)  # 6 idle hours at $3.60
    cheaper = next(a for a in h.published["cost-advice"] if a["kind"] == "CHEAPER_VERSION")
    assert cheaper["alternative_version"] == "small"
    assert cheaper["savings_usd"] == pytest.approx(18 * 60 * 0.006)
    assert {a["period_start_ms"] for a in h.published["cost-advice"]} == {DEC_1}


def test_spend_at_the_first_instant_of_a_period_without_warmup_is_still_explained() -> None:
    h = Harness("budgets:\n  - {name: b, daily: 1, warmup: 0s, forecast: false}\n")
    h.send(prediction(DEC_1, cost_usd=0.5))
    h.commit()
    assert [a["labels"]["level"] for a in h.alerts("BudgetOverrun")] == ["+10%", "+25%", "+50%"]
    assert "spent as 2025-12-01 began" in h.alerts()[0]["annotations"]["summary"]
