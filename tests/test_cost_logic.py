"""cost's domain logic without Kafka: prices, compute shares, budgets and forecasts, the
calendar, the cost file, scopes and advice. Every figure is checked against a sum done by
hand."""

from __future__ import annotations

import pytest

from services.cost.advice import AdviceSettings, DayStats, UnitAdvice, advise, cheaper_versions
from services.cost.budgets import Budget, BudgetState
from services.cost.compute import Fleet
from services.cost.costfile import ConfigFileError, load_text, parse
from services.cost.periods import DAY_MS, HOUR_MS, Calendar
from services.cost.pricing import InvalidUsage
from services.cost.scopes import Scopes

DEC_1 = 1_764_547_200_000  # 2025-12-01 00:00 UTC; December has 31 days
UTC = Calendar("UTC")


def book(text: str, timezone: str | None = None):
    return parse(load_text(text, "cost.yaml"), timezone)


PRICES = """
llm:
  tiered:
    input: 1.25
    output: 10.0
    cached: 0.3125
    tiers:
      - {above: 200000, input: 2.5, output: 15.0, cached: 0.625}
      - {above: 1000000, input: 5.0}
  plain: {input: 2.0, output: 8.0}
  changing:
    - {from: 2026-01-01, input: 1.0, output: 4.0}
    - {from: 2026-03-01, input: 0.5, output: 2.0, cached: 0.25}
"""


# -- prices ------------------------------------------------------------------------------


def test_tier_bills_the_whole_request_above_its_threshold_and_only_above() -> None:
    prices = book(PRICES).prices
    # 200,000 prompt tokens is not above 200,000: base rates, 150,000 of them cached
    at = prices.cost("tiered", 0, 200_000, 2_000, 150_000)
    assert at == pytest.approx((50_000 * 1.25 + 150_000 * 0.3125 + 2_000 * 10.0) / 1e6, rel=1e-12)
    above = prices.cost("tiered", 0, 200_001, 2_000, 150_000)
    assert above == pytest.approx((50_001 * 2.5 + 150_000 * 0.625 + 2_000 * 15.0) / 1e6, rel=1e-12)
    # The second tier changes the input rate only; the rest comes from the base rates.
    huge = prices.cost("tiered", 0, 1_500_000, 1_000, 0)
    assert huge == pytest.approx((1_500_000 * 5.0 + 1_000 * 10.0) / 1e6, rel=1e-12)


def test_cached_tokens_without_a_cached_rate_bill_as_input_not_as_zero() -> None:
    prices = book(PRICES).prices
    assert prices.cost("plain", 0, 1_000, 100, 1_000) == pytest.approx(
        (1_000 * 2.0 + 100 * 8.0) / 1e6, rel=1e-12
    )


def test_cached_tokens_beyond_the_prompt_are_refused() -> None:
    with pytest.raises(InvalidUsage, match="tokens_cached"):
        book(PRICES).prices.cost("plain", 0, 100, 10, 101)


def test_a_price_change_takes_effect_at_local_midnight() -> None:
    paris = Calendar("Europe/Paris")
    prices = book(PRICES, timezone="Europe/Paris").prices
    march = paris.midnight("2026-03-01")
    assert march == 1_772_319_600_000  # 23:00 UTC the day before
    assert prices.cost("changing", march - 1, 1_000_000, 0, 0) == 1.0
    assert prices.cost("changing", march, 1_000_000, 0, 0) == 0.5
    assert prices.cost("changing", march, 1_000_000, 0, 1_000_000) == 0.25
    january = paris.midnight("2026-01-01")
    assert prices.cost("changing", january - 1, 10, 10, 0) is None
    assert prices.why_unpriced("changing", january - 1) == "no_price_at_date"
    assert prices.why_unpriced("nope", january) == "unknown_provider_model"


# -- compute -----------------------------------------------------------------------------


def test_compute_cost_is_shared_by_the_requests_in_flight_per_replica() -> None:
    fleet = Fleet(window_ms=60_000, ttl_ms=300_000)
    fleet.observe("pod-a", 7.2, 2, t_ms=0)  # $7.20/h = $0.002/s a replica; 2 replicas
    assert fleet.hourly_price(0) == pytest.approx(14.4)
    # Alone: 0.25 s x $0.002/s
    assert fleet.cost(250.0, 1_000) == pytest.approx(0.0005, rel=1e-12)
    # 480 requests of 1 s in the next minute: 8 in flight, 4 per replica
    for i in range(480):
        fleet.cost(1000.0, 60_000 + i * 125)
    assert fleet.cost(1000.0, 120_000) == pytest.approx(0.002 / 4, rel=1e-12)
    # After an empty window nothing is shared any more
    assert fleet.cost(1000.0, 240_000) == pytest.approx(0.002, rel=1e-12)


def test_a_busy_window_adds_up_to_the_fleet_bill() -> None:
    fleet = Fleet(window_ms=10_000, ttl_ms=300_000)
    fleet.observe("h1", 3.6, 0, 0)
    fleet.observe("h2", 3.6, 0, 0)  # two hosts at $0.001/s: $0.02 per 10 s window
    for i in range(100):
        fleet.cost(500.0, i * 100)  # 5 in flight over 2 replicas
    paid = sum(fleet.cost(500.0, 10_000 + i * 100) for i in range(100))
    assert paid == pytest.approx(0.02, rel=1e-9)


def test_hosts_drop_out_after_the_ttl_and_the_cost_file_fleet_takes_over() -> None:
    fleet = Fleet(window_ms=60_000, ttl_ms=300_000, fallback=(0.36, 1))
    fleet.observe("h1", 36.0, 0, 0)
    assert fleet.cost(1000.0, 1_000) == pytest.approx(0.01)
    assert fleet.cost(1000.0, 301_000) == pytest.approx(0.0001)  # h1 silent for 5 min
    bare = Fleet(window_ms=60_000, ttl_ms=300_000)
    bare.observe("h1", None, 0, 0)  # a host that states no price
    assert bare.cost(1000.0, 1_000) is None


# -- budgets and forecasts ---------------------------------------------------------------


def spend(state: BudgetState, per_hour: float, hours: range, calendar: Calendar = UTC) -> list:
    changes = []
    for hour in hours:
        changes += state.add(per_hour, DEC_1 + hour * HOUR_MS, calendar) or []
    return changes


def test_each_level_fires_once_per_period_and_resolves_when_it_ends() -> None:
    state = BudgetState(Budget("b", "month", 744.0, forecast=False), "b", {})  # $1 an hour
    changes = spend(state, 2.0, range(48))  # twice the plan from the start
    assert [(c.name, c.at_ms) for c in changes] == [
        (level, DEC_1 + 24 * HOUR_MS) for level in ("+10%", "+25%", "+50%")
    ]
    assert spend(state, 2.0, range(48, 700)) == []  # still over: nothing again
    january = spend(state, 0.5, range(744, 745))
    assert [(c.name, c.status, c.at_ms) for c in january] == [
        (level, "resolved", DEC_1 + 744 * HOUR_MS) for level in ("+10%", "+25%", "+50%")
    ]
    assert state.spend == 0.5 and state.fired == {}


def test_nothing_fires_during_the_warmup_but_the_cap_does() -> None:
    budget = Budget("b", "day", 24.0, cap=10.0, warmup_ms=HOUR_MS * 6)
    state = BudgetState(budget, "b", {})
    changes = spend(state, 11.0, range(1))
    assert [(c.name, c.value, c.threshold) for c in changes] == [("quota", 11.0, 10.0)]
    assert state.quota


def test_spend_of_a_closed_period_is_refused() -> None:
    state = BudgetState(Budget("b", "day", 24.0), "b", {})
    spend(state, 1.0, range(30))  # into the second day
    assert state.add(1.0, DEC_1 + 23 * HOUR_MS, UTC) is None


def test_steady_overspend_is_forecast_long_before_it_crosses_ten_percent() -> None:
    state = BudgetState(Budget("b", "month", 744.0), "b", {})
    changes = spend(state, 0.99, range(200))  # just under plan: no forecast alert
    assert changes == []
    changes = spend(state, 1.5, range(200, 744))
    fired = {c.name: (c.at_ms - DEC_1) // HOUR_MS for c in changes}
    # forecast = spend + 1.5/h x hours left passes 744 once the trailing day is all at 1.5
    assert fired["forecast"] < 212
    # plan x 1.1 = 1.1 t against 198 + 1.5 (t - 199): crossed after t = 251.25 h
    assert fired["+10%"] == 252
    assert fired["forecast"] < fired["+10%"] < fired["+25%"]


def test_burn_rate_is_the_trailing_window_not_the_period_average() -> None:
    state = BudgetState(Budget("b", "month", 1000.0), "b", {})
    spend(state, 10.0, range(24))  # a first day at $10 an hour
    spend(state, 1.0, range(24, 72))  # then $1 an hour
    t = DEC_1 + 72 * HOUR_MS
    assert state.burn_rate(t) * HOUR_MS == pytest.approx(1.0)
    assert state.forecast(t) == pytest.approx(288.0 + 1.0 * (744 - 72))


def test_budget_state_survives_its_changelog() -> None:
    state = BudgetState(Budget("b", "month", 744.0), "b", {"model": "m"})
    spend(state, 2.0, range(30))
    copy = BudgetState(state.budget, "b", {"model": "m"})
    copy.load(state.to_dict())
    assert (copy.spend, copy.fired, copy.forecast(DEC_1 + 30 * HOUR_MS)) == (
        state.spend,
        state.fired,
        state.forecast(DEC_1 + 30 * HOUR_MS),
    )
    assert spend(copy, 2.0, range(30, 31)) == []


# -- calendar ----------------------------------------------------------------------------


def test_days_and_months_follow_the_time_zone_and_its_daylight_saving() -> None:
    paris = Calendar("Europe/Paris")
    start, end = paris.day(paris.midnight("2026-03-29") + 1)
    assert end - start == 23 * HOUR_MS  # clocks go forward
    start, end = paris.month(1_767_222_000_000)  # 2026-01-01 00:00 Paris
    assert start == 1_767_222_000_000 and (end - start) // DAY_MS == 31
    assert paris.label("month", start) == "2026-01"
    assert UTC.label("month", start) == "2025-12"


# -- the cost file -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("llm:\n  m: {input: 1}\n", "cost.yaml:2: a price needs output"),
        ("llm:\n  m: {input: 1, output: 2, price: 3}\n", "cost.yaml:2: unknown key 'price'"),
        ("budgets:\n  - name: a\n    monthly: -5\n", "cost.yaml:3: monthly must be a number"),
        ("budgets:\n  - name: a\n    monthly: 0\n", "cost.yaml:3: budget a: the amount"),
        ("budgets:\n  - name: a\n    daily: 5\n    match: {team: x}\n", "cost.yaml:4: budget a"),
        ("budgets:\n  - {name: a, daily: 5}\n  - {name: a, daily: 6}\n", "cost.yaml:3: every"),
        ("timezone: Mars/Olympus\n", "cost.yaml:1: unknown time zone"),
        ("advice:\n  cache_ttl: soon\n", "cost.yaml:2: not a duration"),
        ("llm:\n  m:\n    - {from: 13/01/2026, input: 1, output: 1}\n", "cost.yaml:3: from"),
        ("llm:\n  m:\n    - {from: 2026-13-01, input: 1, output: 1}\n", "cost.yaml:3: cannot read"),
    ],
)
def test_mistakes_in_the_cost_file_name_file_and_line(text: str, where: str) -> None:
    with pytest.raises(ConfigFileError) as raised:
        book(text)
    assert str(raised.value).startswith(where)


def test_the_shipped_cost_file_loads() -> None:
    from services.cost.config import DEFAULT_FILE
    from services.cost.costfile import load

    shipped = load(str(DEFAULT_FILE))
    assert {b.name for b in shipped.budgets} >= {"whole-bill", "tenant-daily"}
    assert shipped.prices.cost("gpt-4o-mini", 0, 1_000_000, 1_000_000, 0) == pytest.approx(0.75)


# -- scopes ------------------------------------------------------------------------------


def test_an_event_adds_to_its_rollups_and_to_every_budget_scope_it_matches() -> None:
    budgets = book(
        "budgets:\n"
        "  - {name: chat-acme, match: {model: chat, tenant: acme}, monthly: 10}\n"
        "  - {name: per-user, match: {model: chat}, per: [user], daily: 1}\n"
    ).budgets
    scopes = Scopes(("all", "version", "tenant"), budgets)
    keys = [k for k, _ in scopes.of(("chat", "v1", "acme", "u7", None, None))]
    assert keys == [
        "all",
        "model=chat,version=v1",
        "tenant=acme",
        "model=chat,tenant=acme",
        "model=chat,user=u7",
    ]
    assert [b.name for b in scopes.budgets_of({"model": "chat", "user": "u7"})] == ["per-user"]
    assert [k for k, _ in scopes.of(("chat", "v1", None, None, None, None))] == [
        "all",
        "model=chat,version=v1",
    ]


# -- advice ------------------------------------------------------------------------------


def test_idle_hours_of_a_provisioned_fleet_make_a_scale_to_zero_advice() -> None:
    unit = UnitAdvice(AdviceSettings(min_idle_hours=3))
    for hour in range(24):
        if hour not in (1, 2, 3, 4):
            unit.observe(0, 0, None, 10.0, True, 0.01, None, False)
        unit.close_hour(hour, fleet_hourly_price=0.5)
    (advice,) = advise("fraud", "3", unit.close_day(), AdviceSettings(min_idle_hours=3))
    assert (advice.kind, advice.savings, advice.share) == ("SCALE_TO_ZERO", 2.0, 4 / 24)
    assert "01-05h" in advice.summary


def test_callers_bursting_in_one_window_are_batch_traffic() -> None:
    settings = AdviceSettings(burst_requests=50, min_requests=100)
    unit = UnitAdvice(settings)
    for i in range(60):  # one program: 60 requests in window 0
        unit.observe(0, i, "etl-job", 10.0, True, 0.01, None, False)
    for i in range(60):  # 60 people, one request each
        unit.observe(0, i, f"user-{i}", 10.0, True, 0.01, None, False)
    for i in range(40):  # the program again, 40 in the next window: under the burst
        unit.observe(60_000, 60_000 + i, "etl-job", 10.0, True, 0.01, None, False)
    day = unit.close_day()
    assert (day.batch_requests, day.batch_cost) == (60, pytest.approx(0.6))
    (advice,) = advise("m", "1", day, settings)
    assert advice.kind == "MOVE_TO_BATCH"
    assert advice.share == pytest.approx(60 / 160)
    assert advice.savings == pytest.approx(0.3)


def test_repeated_inputs_are_what_a_bounded_expiring_cache_would_serve() -> None:
    settings = AdviceSettings(cache_size=100, cache_ttl_ms=60_000, min_requests=10)
    unit = UnitAdvice(settings)
    for i in range(1000):  # 50 distinct inputs, 1 s apart: 950 repeats within the ttl
        unit.observe(0, i * 1000 % 60_000, None, 5.0, True, 0.002, f"h{i % 50}", False)
    for _ in range(100):  # served by the model's own cache already: not counted again
        unit.observe(0, 0, None, 5.0, True, 0.0, "h1", True)
    day = unit.close_day()
    assert (day.cache_lookups, day.cache_repeats, day.cache_hits) == (1000, 950, 100)
    (advice,) = advise("m", "1", day, settings)
    assert advice.kind == "RESULT_CACHE"
    assert advice.share == pytest.approx(0.95)
    assert advice.savings == pytest.approx(950 * 0.002)


def day_of(requests: int, errors: int, latency_ms: float, cost: float) -> DayStats:
    return DayStats(
        requests=requests,
        errors=errors,
        latency_ms=latency_ms * requests,
        priced=requests,
        cost=cost,
    )


def test_a_cheaper_version_is_advised_only_with_equal_quality() -> None:
    settings = AdviceSettings()
    big = day_of(20_000, 100, 800.0, 200.0)  # 0.5 % errors, $0.01 per inference
    # 0.55 % errors: upper bound of the difference 0.05 + 1.645 x 0.073 = 0.17 pp < 0.5
    small = day_of(20_000, 110, 700.0, 80.0)
    (advice,) = cheaper_versions("chat", {"big": big, "small": small}, settings)
    assert (advice.version, advice.alternative) == ("big", "small")
    assert advice.savings == pytest.approx((0.01 - 0.004) * 20_000)
    assert advice.evidence["error_diff_upper95"] < 0.005
    sloppy = day_of(20_000, 200, 700.0, 80.0)  # twice the errors: not equal quality
    assert cheaper_versions("chat", {"big": big, "small": sloppy}, settings) == []
    slow = day_of(20_000, 100, 1000.0, 80.0)  # 25 % slower than big
    assert cheaper_versions("chat", {"big": big, "small": slow}, settings) == []
    few = day_of(500, 0, 700.0, 2.0)  # too little traffic to judge
    assert cheaper_versions("chat", {"big": big, "small": few}, settings) == []


def test_the_service_refuses_a_bad_cost_file_with_exit_code_2(tmp_path) -> None:
    import os
    import subprocess
    import sys

    bad = tmp_path / "cost.yaml"
    bad.write_text("budgets:\n  - name: a\n    weekly: 5\n")
    result = subprocess.run(
        [sys.executable, "-m", "services.cost"],
        env={**os.environ, "WK_COST_CONFIG": str(bad), "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{bad}:3: unknown key 'weekly'" in result.stderr
