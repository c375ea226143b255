"""The minimal service on the shared runtime, as a real process against a real broker:
exact counts, and bad messages on the dead-letter topic while good ones flow around them.

counter's spec says ``engine="faust"``; every test runs it on both engines (``WK_ENGINE``):
the same task, the same counts."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from watchkeeper.codec import Codec
from watchkeeper.sdk import Emitter

from .helpers import consume, http_json, wait_for

pytestmark = pytest.mark.kafka
CODEC = Codec()
ENGINES = ("faust", "batch")
# What each engine logs when SIGTERM arrives.
STOPPING = {"faust": '"msg": "SIGTERM: stopping"', "batch": '"msg": "signal received: stopping"'}


@pytest.mark.parametrize("engine", ENGINES)
def test_counts_exactly_and_dead_letters_bad_messages(
    kafka_settings, prefix, start_service, engine
):
    counter = start_service("services.counter", prefix, WK_ENGINE=engine)
    status, body = http_json(counter.url + "/healthz")
    assert (status, body["status"]) == (200, "ok")

    sdk = Emitter(kafka_settings, prefix=prefix, client_id="it-counter")
    raw = Producer(kafka_settings.confluent(**{"enable.idempotence": True, "acks": "all"}))
    positions: dict[bytes, tuple[int, int]] = {}

    def remember(err, msg) -> None:
        assert err is None
        positions[msg.value()] = (msg.partition(), msg.offset())

    example = CODEC.registry.examples("PredictionEvent")["fraud_ok"]
    unknown = b"\xc3\x01" + b"\xee" * 8 + CODEC.encode("PredictionEvent", example)[10:]
    truncated = CODEC.encode("PredictionEvent", example)[:-5]
    wrong_type = CODEC.encode("Alert", CODEC.registry.examples("Alert")["latency_firing"])
    invalid = CODEC.encode("PredictionEvent", {**example, "latency_ms": -3.0}, validate=False)
    bad = {
        b"garbage \x00\xff": "not_single_object",
        unknown: "unknown_fingerprint",
        truncated: "truncated",
        wrong_type: "unexpected_type",
        invalid: "invalid",
    }

    for i in range(300):
        sdk.prediction(
            model="fraud", version="3", latency_ms=5.0, status="ERROR" if i % 10 == 0 else "OK"
        )
        sdk.prediction(model="chat", version="v2", latency_ms=900.0)
        if i % 60 == 30:  # bad messages land between good ones, on the same partition key
            sdk.flush(10)
            for value in bad:
                raw.produce(
                    prefix + "predictions",
                    value,
                    key=b"fraud",
                    on_delivery=remember,
                    headers=[("trace", b"abc")],
                )
            raw.flush(10)
            bad = {}
            # every batch of bad messages once; then good traffic goes on
    for _ in range(40):
        sdk.telemetry(host="node-1", model="fraud", version="3", cpu_utilization=0.5)
    for i in range(25):
        sdk.feedback(event_id=f"e{i}", model="fraud", label="legit")
    assert sdk.close(timeout=30) == 0

    wait_for(
        lambda: (
            counter.metric(
                "wk_counter_events_total",
                topic="feedback",
                model="fraud",
                version="",
                status="",
            )
            == 25
        ),
        what="feedback counted",
    )
    wait_for(
        lambda: (
            counter.metric(
                "wk_dead_letters_total",
                service="counter",
                topic=prefix + "predictions",
                reason="invalid",
            )
            == 1
        ),
        what="dead letters",
    )
    wait_for(
        lambda: (
            counter.metric(
                "wk_events_processed_total", service="counter", topic=prefix + "predictions"
            )
            == 600
        ),
        what="600 predictions",
    )
    time.sleep(1.0)  # nothing more arrives late: counts are exact, not at least
    assert (
        counter.metric(
            "wk_counter_events_total",
            topic="predictions",
            model="fraud",
            version="3",
            status="OK",
        )
        == 270
    )
    assert (
        counter.metric(
            "wk_counter_events_total",
            topic="predictions",
            model="fraud",
            version="3",
            status="ERROR",
        )
        == 30
    )
    assert (
        counter.metric(
            "wk_counter_events_total",
            topic="predictions",
            model="chat",
            version="v2",
            status="OK",
        )
        == 300
    )
    assert (
        counter.metric(
            "wk_counter_events_total", topic="telemetry", model="fraud", version="3", status=""
        )
        == 40
    )
    assert (
        counter.metric(
            "wk_messages_consumed_total", service="counter", topic=prefix + "predictions"
        )
        == 605
    )

    letters = consume(kafka_settings, prefix + "dlq", 5)
    assert len(letters) == 5
    expected = dict(
        zip(
            positions,
            [
                "not_single_object",
                "unknown_fingerprint",
                "truncated",
                "unexpected_type",
                "invalid",
            ],
            strict=True,
        )
    )
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers()}
        value = letter.value()
        assert value in expected, "the original bytes, unchanged"
        partition, offset = positions[value]
        assert headers["dlq.topic"] == prefix + "predictions"
        assert headers["dlq.partition"] == str(partition)
        assert headers["dlq.offset"] == str(offset)
        assert headers["dlq.error.class"] == "EventError"
        assert headers["dlq.error.kind"] == expected[value]
        assert headers["dlq.error.message"].startswith(expected[value] + ":")
        assert headers["dlq.service"] == "counter"
        assert int(headers["dlq.timestamp_ms"]) > 0
        assert headers["trace"] == "abc", "original headers are kept"
        assert letter.key() == b"fraud"

    assert counter.stop() == 0, counter.logs()[-3000:]
    assert STOPPING[engine] in counter.logs()


@pytest.mark.parametrize("engine", ENGINES)
def test_restart_resumes_from_committed_offsets(kafka_settings, prefix, start_service, engine):
    """At-least-once across a clean restart: nothing is lost, and a clean stop commits."""
    sdk = Emitter(kafka_settings, prefix=prefix, client_id="it-restart")
    for _ in range(100):
        sdk.prediction(model="fraud", version="3", latency_ms=1.0)
    sdk.flush(30)
    first = start_service("services.counter", prefix, WK_ENGINE=engine)
    wait_for(
        lambda: (
            first.metric(
                "wk_events_processed_total", service="counter", topic=prefix + "predictions"
            )
            == 100
        ),
        what="first 100",
    )
    assert first.stop() == 0

    for _ in range(50):
        sdk.prediction(model="fraud", version="3", latency_ms=1.0)
    assert sdk.close(30) == 0
    second = start_service("services.counter", prefix, WK_ENGINE=engine)
    wait_for(
        lambda: (
            second.metric(
                "wk_events_processed_total", service="counter", topic=prefix + "predictions"
            )
            == 50
        ),
        what="the next 50",
    )
    time.sleep(1.0)
    assert (
        second.metric("wk_events_processed_total", service="counter", topic=prefix + "predictions")
        == 50
    )
