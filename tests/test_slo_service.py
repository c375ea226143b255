"""slo as a real process on a real broker: exactly-once windows across a SIGKILL, and bad
input on the dead-letter topic."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Producer

from watchkeeper.codec import Codec
from watchkeeper.sdk import Emitter

from .helpers import consume, wait_for

pytestmark = pytest.mark.kafka
CODEC = Codec()
WINDOW_S = 30


def slo_env(**extra: str) -> dict[str, str]:
    return {
        "WK_SLO_WINDOW_S": str(WINDOW_S),
        "WK_SLO_GRACE_S": "1",
        "WK_SLO_IDLE_S": "60",
        "WK_INSTANCE_ID": "it-1",
        **extra,
    }


def windows(kafka_settings, prefix: str, count: int, timeout: float = 30) -> list[dict]:
    messages = consume(kafka_settings, prefix + "windows", count, timeout=timeout)
    return [CODEC.decode_as("WindowAggregate", m.value()) for m in messages]


def test_sigkill_mid_window_loses_and_doubles_nothing(kafka_settings, prefix, start_service):
    now_ms = int(time.time() * 1000)
    window_start = now_ms - now_ms % (WINDOW_S * 1000)
    if window_start + WINDOW_S * 1000 - now_ms < 12_000:  # keep the whole test in one window
        window_start += WINDOW_S * 1000
        time.sleep((window_start - now_ms) / 1000 + 0.1)
    total = 6000
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-slo-kill")

    def emit() -> None:
        for i in range(total):
            emitter.prediction(
                model="fraud",
                version="3",
                latency_ms=1.0 + i % 100,
                status="ERROR" if i % 50 == 0 else "OK",
                event_time_ms=window_start + 500 + i,
            )
            if i % 100 == 0:
                time.sleep(0.05)  # ~3 s of traffic, so the kill lands mid-stream
        emitter.flush(30)

    sender = threading.Thread(target=emit)
    slo = start_service("services.slo", prefix, **slo_env())
    sender.start()
    topic = prefix + "predictions"
    # Kill once part of the window is committed and more is in flight, so the restart must
    # both restore state and re-read uncommitted events.
    wait_for(
        lambda: (
            slo.metric("wk_events_processed_total", service="slo", topic=topic) > 1500
            and slo.metric("wk_engine_commits_total", service="slo") >= 2
        ),
        what="first events processed and committed",
    )
    slo.kill()  # SIGKILL: no commit, no goodbye
    restarted = start_service("services.slo", prefix, **slo_env())
    sender.join()
    assert emitter.close(30) == 0
    # Close the window: one event past its end + grace moves stream time on.
    closer = Emitter(kafka_settings, prefix=prefix, client_id="it-slo-closer")
    closer.prediction(
        model="fraud",
        version="3",
        latency_ms=1.0,
        event_time_ms=window_start + WINDOW_S * 1000 + 1500,
    )
    assert closer.close(30) == 0

    (window,) = windows(kafka_settings, prefix, 1)
    assert window["window_start_ms"] == window_start
    assert window["count"] == total
    assert window["errors"] == total // 50
    assert window["late"] == 0
    # And nothing more: the killed instance's uncommitted work never became visible.
    assert len(windows(kafka_settings, prefix, 2, timeout=3)) == 1
    assert restarted.metric("wk_engine_state_records_restored_total", service="slo") > 0
    assert restarted.stop() == 0


def test_bad_input_is_dead_lettered_and_good_input_still_counts(
    kafka_settings, prefix, start_service
):
    slo = start_service("services.slo", prefix, **slo_env(WK_SLO_MAX_FUTURE_S="60"))
    now_ms = int(time.time() * 1000)
    window_start = now_ms - now_ms % (WINDOW_S * 1000)
    raw = Producer(kafka_settings.confluent(**{"enable.idempotence": True}))
    example = CODEC.registry.examples("PredictionEvent")["fraud_ok"]
    good = {**example, "event_time_ms": window_start + 100}
    future = {**example, "event_time_ms": now_ms + 3_600_000}
    for value in (
        CODEC.encode("PredictionEvent", good),
        b"\x00garbage",
        CODEC.encode("PredictionEvent", future),
        CODEC.encode("PredictionEvent", good),
    ):
        raw.produce(prefix + "predictions", value, key=b"fraud")
    raw.produce(
        prefix + "predictions",
        CODEC.encode(
            "PredictionEvent", {**good, "event_time_ms": window_start + WINDOW_S * 1000 + 1500}
        ),
        key=b"fraud",
    )
    assert raw.flush(10) == 0

    letters = consume(kafka_settings, prefix + "dlq", 2)
    kinds = sorted(
        (
            dict(m.headers())["dlq.error.kind"].decode(),
            dict(m.headers())["dlq.error.class"].decode(),
        )
        for m in letters
    )
    assert kinds == [("not_single_object", "EventError"), ("processing_error", "FutureEvent")]
    (window,) = windows(kafka_settings, prefix, 1)
    assert window["count"] == 2
    assert slo.stop() == 0
