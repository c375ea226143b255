"""cost as a real process on a real broker: a month of compressed spend against a budget,
exact tiered and cached prices, bad input, and exactly-once spend across a SIGKILL.

Event time drives everything: a month of spend is a month of event time played in
seconds, and nothing here depends on how fast the machine is."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from watchkeeper.codec import Codec
from watchkeeper.sdk import Emitter

from .helpers import consume, wait_for

pytestmark = pytest.mark.kafka
CODEC = Codec()
DEC_1 = 1_764_547_200_000  # 2025-12-01 00:00 UTC
HOUR = 3_600_000
DAY = 24 * HOUR
COST_FILE = """
llm:
  gem:
    input: 1.25
    output: 10.0
    cached: 0.3125
    tiers: [{above: 200000, input: 2.5, output: 15.0, cached: 0.625}]
budgets:
  - {name: chat, match: {model: chat}, monthly: 3100, cap: 200%, labels: {team: llm}}
"""


def cost_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    path = tmp_path / "cost.yaml"
    path.write_text(COST_FILE)
    return {
        "WK_COST_CONFIG": str(path),
        "WK_COST_IDLE_S": "600",  # event time is December 2025: never follow the wall
        "WK_COST_PUBLISH_INTERVAL_S": "0.2",
        "WK_COST_UNPRICED_GRACE_S": "60",
        "WK_INSTANCE_ID": "it-1",
        **extra,
    }


class Reader:
    """Reads a topic from the start, committed messages only, and keeps them decoded."""

    def __init__(self, kafka_settings, topic: str, schema: str) -> None:
        self.schema = schema
        self.records: list[tuple[bytes, dict]] = []
        self.consumer = Consumer(
            kafka_settings.confluent(
                **{
                    "group.id": f"test-{uuid.uuid4().hex}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                }
            )
        )
        self.consumer.subscribe([topic])

    def poll(self) -> list[dict]:
        for message in self.consumer.consume(500, 0.5):
            if message.error() is None:
                self.records.append((message.key(), CODEC.decode_as(self.schema, message.value())))
        return [r for _, r in self.records]

    def latest(self, key: str) -> dict | None:
        self.poll()
        found = [r for k, r in self.records if k == key.encode()]
        return found[-1] if found else None

    def close(self) -> None:
        self.consumer.close()


def test_a_month_of_compressed_spend_crosses_each_line_once_forecast_first(
    kafka_settings, prefix, start_service, tmp_path
):
    cost = start_service("services.cost", prefix, **cost_env(tmp_path))
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-cost-month")
    # $105 a day for ten days (+5 % on a plan of $100 a day), then $290 a day; four
    # requests an hour, and one in January to end December.
    for quarter in range(31 * 24 * 4):
        per_day = 105 if quarter < 240 * 4 else 290
        emitter.prediction(
            model="chat",
            version="1",
            latency_ms=800.0,
            cost_usd=per_day / 96,
            event_time_ms=DEC_1 + quarter * HOUR // 4 + 1,
        )
    emitter.prediction(model="chat", version="1", latency_ms=1.0, event_time_ms=DEC_1 + 31 * DAY)
    assert emitter.close(30) == 0

    alerts = Reader(kafka_settings, prefix + "alerts", "Alert")
    wait_for(lambda: len(alerts.poll()) >= 10, what="5 alerts fired and resolved")
    time.sleep(2)  # anything fired twice would be here by now
    records = alerts.poll()
    alerts.close()
    firing = sorted(
        (r["starts_at_ms"], r["labels"]["alertname"], r["labels"].get("level"))
        for r in records
        if r["status"] == "FIRING"
    )
    names = [(name, level) for _, name, level in firing]
    assert names == [
        ("BudgetForecastOverrun", None),
        ("BudgetOverrun", "+10%"),
        ("BudgetOverrun", "+25%"),
        ("BudgetOverrun", "+50%"),
        ("QuotaExceeded", None),
    ]
    # By hand: after quarter q the spend is the sum of the payments so far, the plan
    # 3100 x (q / 4 h) / 744 h; a line is crossed by the first payment above it.
    spent, crossed = 0.0, {}
    for q in range(31 * 96):
        spent += (105 if q < 960 else 290) / 96
        plan = 3100 * (q / 4 + 1 / HOUR) / 744  # hours elapsed at the payment, of 744
        for name, factor in (("+10%", 1.1), ("+25%", 1.25), ("+50%", 1.5)):
            if name not in crossed and q >= 96 and spent > factor * plan:  # after warm-up
                crossed[name] = q
        if "cap" not in crossed and spent >= 6200:
            crossed["cap"] = q
    at = [DEC_1 + crossed[k] * HOUR // 4 + 1 for k in ("+10%", "+25%", "+50%", "cap")]
    assert [t for t, _, _ in firing[1:]] == at
    # The forecast (spend + trailing day's rate x time left) warns once the one-day
    # warm-up is over, ten days before the +10 % line.
    assert firing[0][0] == DEC_1 + DAY + 1
    assert crossed["+10%"] / 4 > 240
    resolved = [r for r in records if r["status"] == "RESOLVED"]
    assert len(resolved) == 5 and {r["ends_at_ms"] for r in resolved} == {DEC_1 + 31 * DAY}
    assert {r["labels"]["team"] for r in records} == {"llm"}

    quotas = consume(kafka_settings, prefix + "cost-quotas", 2)
    states = [CODEC.decode_as("QuotaState", m.value()) for m in quotas]
    assert [(q["state"], q["period"]) for q in states] == [
        ("EXCEEDED", "2025-12"),
        ("OK", "2026-01"),
    ]
    assert cost.metric("wk_cost_alerts_total", alertname="BudgetOverrun", status="firing") == 3
    assert cost.stop() == 0


def test_tiered_and_cached_prices_are_exact_and_bad_input_is_never_silent(
    kafka_settings, prefix, start_service, tmp_path
):
    cost = start_service("services.cost", prefix, **cost_env(tmp_path))
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-cost-prices")
    usage = [
        (1_000, 200, 0),  # base rates
        (250_000, 1_000, 50_000),  # above 200k prompt tokens: the whole request at the tier
        (8_000, 500, 6_000),  # mostly cached
    ]
    for i, (tokens_in, tokens_out, cached) in enumerate(usage * 100):
        emitter.prediction(
            model="chat",
            version="1",
            latency_ms=900.0,
            event_time_ms=DEC_1 + i * 1_000,
            llm={
                "provider_model": "gem",
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
                "tokens_cached": cached,
            },
        )
    # Bad input: an unknown provider model, a model without telemetry (compute),
    # cached tokens beyond the prompt, and bytes that are no event at all.
    for i in range(5):
        emitter.prediction(
            model="chat",
            version="1",
            latency_ms=900.0,
            event_time_ms=DEC_1 + 400_000 + i,
            llm={"provider_model": "gpt-9", "tokens_in": 10, "tokens_out": 1},
        )
    for i in range(70):  # 70 s without telemetry: longer than the grace
        emitter.prediction(
            model="fraud", version="3", latency_ms=8.0, event_time_ms=DEC_1 + i * 1_000
        )
    emitter.prediction(
        model="chat",
        version="1",
        latency_ms=900.0,
        event_time_ms=DEC_1 + 500_000,
        llm={"provider_model": "gem", "tokens_in": 10, "tokens_out": 1, "tokens_cached": 11},
    )
    assert emitter.close(30) == 0
    raw = Producer(kafka_settings.confluent(**{"enable.idempotence": True}))
    raw.produce(prefix + "predictions", b"\x00not an event", key=b"chat")
    assert raw.flush(10) == 0

    by_hand = (
        100
        * (
            (1_000 * 1.25 + 200 * 10.0)
            + (200_000 * 2.5 + 50_000 * 0.625 + 1_000 * 15.0)
            + (2_000 * 1.25 + 6_000 * 0.3125 + 500 * 10.0)
        )
        / 1e6
    )
    aggregates = Reader(kafka_settings, prefix + "cost-aggregates", "CostAggregate")
    month_key = f"model=chat|month|{DEC_1}"
    wait_for(
        lambda: (aggregates.latest(month_key) or {}).get("requests") == 305,
        what="the month total of chat",
    )
    month = aggregates.latest(month_key)
    assert month["cost_usd"] == pytest.approx(by_hand, rel=1e-12)
    assert (month["tokens_in"], month["tokens_cached"]) == (100 * 259_000 + 50, 100 * 56_000)
    assert month["unpriced"] == 5
    wait_for(
        lambda: (aggregates.latest(f"model=fraud|day|{DEC_1}") or {}).get("requests") == 70,
        what="fraud's requests",
    )
    fraud = aggregates.latest(f"model=fraud|day|{DEC_1}")
    assert (fraud["unpriced"], fraud["cost_usd"]) == (70, 0.0)
    aggregates.close()

    alerts = [
        CODEC.decode_as("Alert", m.value()) for m in consume(kafka_settings, prefix + "alerts", 2)
    ]
    assert sorted(
        (a["labels"]["model"], a["labels"]["pricing"], a["annotations"]["reason"]) for a in alerts
    ) == [("chat", "llm", "unknown_provider_model"), ("fraud", "compute", "no_telemetry")]
    letters = consume(kafka_settings, prefix + "dlq", 2)
    assert sorted(dict(m.headers())["dlq.error.class"].decode() for m in letters) == [
        "EventError",
        "InvalidUsage",
    ]
    assert cost.metric("wk_cost_unpriced_total", model="fraud", reason="no_telemetry") == 70
    assert cost.stop() == 0


def test_sigkill_loses_and_doubles_no_spend(kafka_settings, prefix, start_service, tmp_path):
    total = 6000
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-cost-kill")

    def emit() -> None:
        for i in range(total):
            emitter.prediction(
                model="chat" if i % 3 else "fraud",
                version="1",
                tenant=f"t{i % 4}",
                latency_ms=5.0,
                cost_usd=(1 + i % 8) / 64,  # multiples of 1/64: sums are exact in floats
                event_time_ms=DEC_1 + i * 10_000,  # 60,000 s: spans windows and a day
            )
            if i % 100 == 0:
                time.sleep(0.05)  # ~3 s of traffic, so the kill lands mid-stream
        emitter.flush(30)

    expected = sum((1 + i % 8) / 64 for i in range(total))
    sender = threading.Thread(target=emit)
    cost = start_service("services.cost", prefix, **cost_env(tmp_path))
    sender.start()
    topic = prefix + "predictions"
    wait_for(
        lambda: (
            cost.metric("wk_events_processed_total", service="cost", topic=topic) > 1500
            and cost.metric("wk_engine_commits_total", service="cost") >= 2
        ),
        what="first events priced and committed",
    )
    cost.kill()
    restarted = start_service("services.cost", prefix, **cost_env(tmp_path))
    sender.join()
    # One more after the restart for sure, so the restarted budget state is seen in use.
    emitter.prediction(
        model="chat", version="1", tenant="t0", latency_ms=5.0, cost_usd=0.5, event_time_ms=DEC_1
    )
    total += 1
    expected += 0.5
    assert emitter.close(30) == 0

    aggregates = Reader(kafka_settings, prefix + "cost-aggregates", "CostAggregate")
    wait_for(
        lambda: (aggregates.latest(f"all|month|{DEC_1}") or {}).get("requests") == total,
        timeout=90,
        what="every request in the month total",
    )
    time.sleep(1.5)  # a double count would show in a later update
    month = aggregates.latest(f"all|month|{DEC_1}")
    assert (month["requests"], month["cost_usd"]) == (total, expected)

    def tenants() -> list[dict]:
        return [aggregates.latest(f"tenant=t{k}|month|{DEC_1}") or {} for k in range(4)]

    wait_for(lambda: sum(t.get("requests", 0) for t in tenants()) == total, what="tenants")
    assert sum(t["cost_usd"] for t in tenants()) == expected
    aggregates.close()
    chat = sum((1 + i % 8) / 64 for i in range(total - 1) if i % 3) + 0.5
    wait_for(
        lambda: restarted.metric("wk_cost_budget_spend_usd", instance="chat") == chat,
        what="the budget's spend, restored and continued",
    )
    assert restarted.metric("wk_cost_late_spend_total", what="budget") == 0
    assert restarted.metric("wk_engine_state_records_restored_total", service="cost") > 0
    assert restarted.stop() == 0
