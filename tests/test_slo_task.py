"""The slo task without Kafka: event-time windows, lateness, early alerts, restore."""

from __future__ import annotations

import pytest

from services.slo.config import SloConfig
from services.slo.rules import load_text, parse
from services.slo.task import FutureEvent, SloTask
from watchkeeper.codec import Codec
from watchkeeper.settings import ServiceSettings

CODEC = Codec()
T0 = 1_767_225_600_000  # a round 10 s boundary


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000.0


def make_task(rules_yaml: str = "rules: []", clock: Clock | None = None, **overrides):
    config = SloConfig(service=ServiceSettings(name="slo"), rules_path="-", **overrides)
    rules = parse(load_text(rules_yaml, "rules.yaml"), config.window_ms)
    return SloTask(0, config, rules, CODEC, clock or Clock(T0))


def prediction(
    t_ms: int,
    latency: float = 10.0,
    status: str = "OK",
    model: str = "fraud",
    version: str = "3",
    **extra,
) -> dict:
    return {
        "event_id": f"e{t_ms}",
        "event_time_ms": t_ms,
        "model": model,
        "version": version,
        "variant": "default",
        "region": None,
        "latency_ms": latency,
        "status": status,
        "llm": None,
        "cost_usd": None,
        **extra,
    }


def outputs(task: SloTask, topic: str) -> list[dict]:
    produced, _ = task.drain()
    schema = {"windows": "WindowAggregate", "alerts": "Alert"}[topic]
    return [CODEC.decode_as(schema, o.value) for o in produced if o.topic == topic]


def run(task: SloTask, clock: Clock, events: list[dict], topic: str = "predictions") -> None:
    for event in events:
        clock.ms = max(clock.ms, event["event_time_ms"])
        task.process(topic, event)
    task.tick(clock.ms)


def test_windows_follow_event_time_and_close_after_grace() -> None:
    clock = Clock(T0)
    task = make_task(clock=clock)
    run(task, clock, [prediction(T0 + i * 100, latency=float(i + 1)) for i in range(50)])
    run(task, clock, [prediction(T0 + 11_000)])  # next window, still within grace of the first
    assert outputs(task, "windows") == []
    run(task, clock, [prediction(T0 + 12_000)])  # stream time reaches end + grace
    (window,) = outputs(task, "windows")
    assert (window["window_start_ms"], window["window_end_ms"]) == (T0, T0 + 10_000)
    assert window["count"] == 50
    assert window["latency_max_ms"] == 50.0
    assert window["latency_p50_ms"] == pytest.approx(25.0, rel=0.01)
    assert window["latency_p99_ms"] == pytest.approx(50.0, rel=0.01)
    assert window["throughput_per_s"] == 5.0
    assert (window["model"], window["version"], window["region"]) == ("fraud", "3", None)


def test_late_events_within_grace_count_later_ones_are_counted_as_late() -> None:
    clock = Clock(T0)
    task = make_task(clock=clock)
    run(task, clock, [prediction(T0 + 1_000), prediction(T0 + 11_500)])
    run(task, clock, [prediction(T0 + 9_000)])  # window [T0, T0+10s) still open: counts
    run(task, clock, [prediction(T0 + 12_000)])  # closes it
    run(task, clock, [prediction(T0 + 2_000)])  # after the close: late
    run(task, clock, [prediction(T0 + 22_000)])
    first, second = outputs(task, "windows")
    assert first["count"] == 2
    assert (second["count"], second["late"]) == (2, 1)


def test_idle_partition_closes_its_windows_by_wall_clock() -> None:
    clock = Clock(T0)
    task = make_task(clock=clock)
    run(task, clock, [prediction(T0 + 1_000)])
    clock.ms = T0 + 15_000
    task.tick(clock.ms)
    assert outputs(task, "windows") == []  # idle for 14 s but stream time + idle not there yet
    clock.ms = T0 + 17_000  # 17 - 5 (idle) = 12 = end + grace
    task.tick(clock.ms)
    assert [w["count"] for w in outputs(task, "windows")] == [1]


def test_telemetry_goes_into_the_same_window() -> None:
    clock = Clock(T0)
    task = make_task(clock=clock)
    run(task, clock, [prediction(T0 + 1_000)])
    telemetry = {
        "event_time_ms": T0 + 2_000,
        "model": "fraud",
        "version": "3",
        "variant": "default",
        "region": None,
        "cpu_utilization": 0.4,
        "memory_utilization": 0.5,
        "gpu_utilization": None,
    }
    run(task, clock, [telemetry, {**telemetry, "cpu_utilization": 0.6}], topic="telemetry")
    run(task, clock, [prediction(T0 + 12_000)])
    (window,) = outputs(task, "windows")
    assert window["cpu_utilization"] == pytest.approx(0.5)
    assert window["memory_utilization"] == pytest.approx(0.5)
    assert window["gpu_utilization"] is None


ERROR_RULE = """
rules:
  - alert: HighErrorRate
    expr: error_rate > 10%
    min_count: 20
    severity: page
    labels: {team: risk}
    annotations: {summary: "{model} {version}: {value:.0%} errors"}
"""


def test_error_rate_alert_fires_early_and_resolves_on_a_clean_window() -> None:
    clock = Clock(T0)
    task = make_task(ERROR_RULE, clock=clock)
    healthy = [prediction(T0 + i * 10) for i in range(30)]
    run(task, clock, healthy)
    assert outputs(task, "alerts") == []
    clock.ms += 200  # the early evaluation is throttled to every 100 ms
    failing = [prediction(T0 + 500 + i, status="ERROR") for i in range(10)]
    run(task, clock, failing)
    (alert,) = outputs(task, "alerts")
    assert alert["status"] == "FIRING"
    assert alert["labels"] == {
        "alertname": "HighErrorRate",
        "severity": "page",
        "team": "risk",
        "model": "fraud",
        "version": "3",
        "variant": "default",
    }
    assert alert["value"] == pytest.approx(0.25)
    assert alert["threshold"] == pytest.approx(0.1)
    assert alert["annotations"] == {"summary": "fraud 3: 25% errors"}
    assert alert["starts_at_ms"] == T0 + 509  # the event time that crossed
    # The window closes still breaching: no second firing.
    run(task, clock, [prediction(T0 + 10_000 + i * 10) for i in range(30)])
    run(task, clock, [prediction(T0 + 12_000)])
    assert outputs(task, "alerts") == []
    # The next window is clean: resolved, once.
    run(task, clock, [prediction(T0 + 22_000)])
    (resolved,) = outputs(task, "alerts")
    assert resolved["status"] == "RESOLVED"
    assert resolved["fingerprint"] == alert["fingerprint"]
    assert resolved["ends_at_ms"] == T0 + 20_000
    run(task, clock, [prediction(T0 + 32_000)])
    assert outputs(task, "alerts") == []


def test_for_two_windows_waits_for_the_second_breaching_window() -> None:
    clock = Clock(T0)
    task = make_task(ERROR_RULE.replace("min_count: 20", "min_count: 20\n    for: 2"), clock=clock)
    run(task, clock, [prediction(T0 + i * 100, status="ERROR") for i in range(40)])
    clock.ms += 200
    task.tick(clock.ms)
    assert outputs(task, "alerts") == []  # one breaching window is not two
    # The first window closes breaching (streak 1); the second has too few events yet.
    run(task, clock, [prediction(T0 + 10_000 + i * 100, status="ERROR") for i in range(15)])
    clock.ms += 200
    run(task, clock, [prediction(T0 + 12_000)])
    assert outputs(task, "alerts") == []
    # The second window reaches min_count still breaching: it fires before it closes.
    clock.ms += 200
    run(task, clock, [prediction(T0 + 12_500 + i, status="ERROR") for i in range(5)])
    (alert,) = outputs(task, "alerts")
    assert alert["status"] == "FIRING"
    assert T0 + 10_000 <= alert["starts_at_ms"] < T0 + 20_000


def test_min_count_prevents_a_verdict_on_a_handful_of_events() -> None:
    clock = Clock(T0)
    task = make_task(ERROR_RULE, clock=clock)
    run(task, clock, [prediction(T0 + i, status="ERROR") for i in range(19)])
    clock.ms += 200
    run(task, clock, [prediction(T0 + 12_000)])
    assert outputs(task, "alerts") == []


def test_baseline_rule_compares_with_the_series_own_past() -> None:
    rules = """
rules:
  - alert: LatencyDegraded
    expr: latency_p95_ms > 1.5 * baseline(1m)
    min_count: 10
"""
    clock = Clock(T0)
    task = make_task(rules, clock=clock)
    for w in range(6):  # one minute of ~100 ms latency
        base = T0 + w * 10_000
        run(task, clock, [prediction(base + i * 100, latency=100.0 + i % 5) for i in range(50)])
    clock.ms += 200
    run(task, clock, [prediction(T0 + 60_000 + i * 10, latency=300.0) for i in range(20)])
    (alert,) = outputs(task, "alerts")
    assert alert["value"] == pytest.approx(300.0, rel=0.01)
    assert alert["threshold"] == pytest.approx(1.5 * 104.0, rel=0.02)


def test_burn_rate_needs_both_windows() -> None:
    rules = """
rules:
  - alert: ErrorBudgetBurn
    slo: {objective: 99%, bad: errors}
    min_count: 10
    burn_rate:
      - {long: 1m, short: 10s, factor: 5, severity: page}
"""
    clock = Clock(T0)
    task = make_task(rules, clock=clock)
    for w in range(6):  # a clean minute: 1 % errors is exactly the budget
        base = T0 + w * 10_000
        run(
            task,
            clock,
            [prediction(base + i * 10, status="ERROR" if i == 0 else "OK") for i in range(100)],
        )
    clock.ms += 200
    # The short window burns 10x (21 of 200 fail) but the long one only 3.7x (26 of 700).
    run(
        task,
        clock,
        [
            prediction(T0 + 60_000 + i * 10, status="ERROR" if i % 10 < 2 else "OK")
            for i in range(100)
        ],
    )
    assert outputs(task, "alerts") == []
    clock.ms += 200
    run(task, clock, [prediction(T0 + 61_500 + i, status="ERROR") for i in range(200)])
    (alert,) = outputs(task, "alerts")
    assert alert["labels"]["severity"] == "page"
    assert alert["value"] > 5


def test_restore_from_the_changelog_gives_the_same_windows_and_rule_state() -> None:
    clock = Clock(T0)
    first = make_task(ERROR_RULE, clock=clock)
    run(first, clock, [prediction(T0 + i * 10) for i in range(25)])
    run(first, clock, [prediction(T0 + 10_000 + i * 10) for i in range(25)])
    run(first, clock, [prediction(T0 + 12_000)])
    clock.ms += 200
    run(first, clock, [prediction(T0 + 12_100 + i, status="ERROR") for i in range(10)])
    produced, changes = first.drain()
    assert [CODEC.decode(o.value).schema for o in produced] == ["WindowAggregate", "Alert"]

    second = make_task(ERROR_RULE, clock=clock)
    for key, value in changes:
        second.restore(key, value)
    second.restored()
    more = [prediction(T0 + 13_000 + i, status="ERROR") for i in range(5)]
    run(first, clock, more)
    run(second, clock, more)
    run(first, clock, [prediction(T0 + 22_000)])
    run(second, clock, [prediction(T0 + 22_000)])
    a, b = outputs(first, "windows"), outputs(second, "windows")
    for record in (*a, *b):
        record.pop("emitted_at_ms")
    assert a == b and a[0]["count"] == 41
    # The rule state survived too: the firing alert is not re-fired after the restore.
    assert [x["status"] for x in outputs(second, "alerts")] == []


def test_event_far_in_the_future_is_refused() -> None:
    task = make_task()
    with pytest.raises(FutureEvent, match="ahead of this service's clock"):
        task.process("predictions", prediction(T0 + 3_600_000))


def test_series_beyond_the_cap_fold_into_other() -> None:
    clock = Clock(T0)
    task = make_task(clock=clock, max_series=2)
    run(task, clock, [prediction(T0 + i, version=str(i)) for i in range(5)])
    run(task, clock, [prediction(T0 + 12_000, version="0")])
    versions = sorted(w["version"] for w in outputs(task, "windows"))
    assert versions == ["0", "1", "_other"]
