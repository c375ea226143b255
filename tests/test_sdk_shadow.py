"""Shadow models: the caller only ever gets the primary's answer, drops are counted, and
the candidate's events (variant "shadow") reach Kafka exactly."""

from __future__ import annotations

import threading
import uuid

import pytest
from prometheus_client import REGISTRY

from watchkeeper.codec import Codec
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from .helpers import consume, wait_for

NOWHERE = KafkaSettings("127.0.0.1:1")


@pytest.fixture
def emitter():
    sdk = Emitter(NOWHERE, buffer_size=1000, client_id=f"shadow-{uuid.uuid4().hex[:8]}")
    yield sdk
    sdk.close(timeout=0)


def primary(x: int) -> str:
    return "big" if x > 10 else "small"


def test_the_caller_gets_the_primarys_answer_whatever_the_candidate_does(emitter) -> None:
    release = threading.Event()

    def raising(x: int) -> str:
        raise RuntimeError("candidate broke")

    def slow(x: int) -> str:
        release.wait(30)  # a hung candidate: held until the test lets it go
        return "big"

    def different(x: int) -> str:
        return "other"

    shadows = [
        emitter.shadow("fraud", f"c{i}", fn) for i, fn in enumerate((raising, slow, different))
    ]
    wrapped = primary
    for shadow in shadows:
        wrapped = shadow.wrap(wrapped)
    # Every call returns while the slow candidate is still held: nothing waits on it.
    assert [wrapped(x) for x in (1, 20, 5, 30)] == ["small", "big", "small", "big"]
    release.set()
    for shadow in shadows:
        assert shadow.close(timeout=10) == 0
    broke, held, other = (s.report() for s in shadows)
    assert (broke.ran, broke.errors, broke.compared, broke.agreement_rate) == (4, 4, 0, None)
    assert (held.ran, held.errors, held.agreed) == (4, 0, 2)
    assert (other.ran, other.agreed, other.agreement_rate) == (4, 0, 0.0)


def test_a_primary_that_raises_raises_and_nothing_is_shadowed(emitter) -> None:
    shadow = emitter.shadow("fraud", "c1", primary)

    @shadow.wrap
    def failing(x: int) -> str:
        raise TimeoutError("primary too slow")

    with pytest.raises(TimeoutError):
        failing(1)
    shadow.close(timeout=5)
    assert shadow.report().submitted == 0


def test_a_full_queue_drops_and_counts_without_blocking(emitter) -> None:
    started, release = threading.Event(), threading.Event()

    def held(x: int) -> str:
        started.set()
        release.wait(30)
        return primary(x)

    shadow = emitter.shadow("fraud", "c-full", held, queue_size=5)
    assert shadow.submit(1, "small")
    assert started.wait(30)  # the worker holds request 1; the queue is empty again
    queued = [shadow.submit(x, primary(x)) for x in range(2, 18)]
    assert queued == [True] * 5 + [False] * 11
    release.set()
    assert shadow.close(timeout=10) == 0
    report = shadow.report()
    assert (report.submitted, report.ran, report.dropped, report.agreed) == (17, 6, 11, 6)
    assert shadow.drops() == {"queue_full": 11}
    labels = {"client_id": emitter.client_id, "model": "fraud", "version": "c-full"}
    assert (
        REGISTRY.get_sample_value("wk_sdk_shadow_dropped_total", labels | {"reason": "queue_full"})
        == 11
    )
    assert REGISTRY.get_sample_value("wk_sdk_shadow_runs_total", labels) == 6
    assert REGISTRY.get_sample_value("wk_sdk_shadow_agreed_total", labels) == 6
    assert (
        REGISTRY.get_sample_value(
            "wk_sdk_shadow_latency_seconds_count", labels | {"side": "candidate"}
        )
        == 6
    )


def test_the_request_is_copied_and_an_uncopyable_one_is_dropped(emitter) -> None:
    seen = []
    shadow = emitter.shadow("fraud", "c-copy", lambda request: seen.append(dict(request)))
    request = {"amount": 12.0}
    shadow.submit(request, None)
    request["amount"] = 99.0  # the caller reuses its dict at once
    shadow.submit(threading.Lock(), None)  # a lock cannot be copied
    shadow.close(timeout=10)
    assert seen == [{"amount": 12.0}]
    assert shadow.drops() == {"uncopyable": 1}


def test_agreement_and_latencies_are_reported(emitter) -> None:
    # The candidate's score is within 0.1 of the primary's for 30 requests of 40.
    shadow = emitter.shadow(
        "fraud",
        "c-close",
        lambda x: x / 100 + (0.5 if x % 4 == 0 else 0.01),
        compare=lambda primary_score, candidate_score: abs(primary_score - candidate_score) < 0.1,
    )
    for x in range(40):
        shadow.submit(x, x / 100, primary_latency_ms=float(x))
    shadow.close(timeout=10)
    report = shadow.report()
    assert (report.ran, report.compared, report.agreed, report.agreement_rate) == (40, 40, 30, 0.75)
    assert (report.primary_p50_ms, report.primary_p99_ms) == (19.0, 39.0)
    assert (
        report.candidate_p50_ms is not None and report.candidate_p99_ms >= report.candidate_p50_ms
    )


def test_bad_arguments_are_refused_by_name(emitter) -> None:
    with pytest.raises(ValueError, match="queue_size"):
        emitter.shadow("fraud", "c", primary, queue_size=0)
    with pytest.raises(ValueError, match="workers"):
        emitter.shadow("fraud", "c", primary, workers=0)
    with pytest.raises(ValueError, match="version"):
        emitter.shadow("fraud", "", primary)
    with pytest.raises(ValueError, match="predict"):
        emitter.shadow("fraud", "c", None)


@pytest.mark.kafka
def test_shadow_events_reach_kafka_with_variant_shadow(kafka_settings, prefix) -> None:
    sdk = Emitter(kafka_settings, prefix=prefix, client_id="shadow-events")

    def candidate(x: int) -> str:
        if x % 10 == 0:
            raise ValueError("no answer for round numbers")
        return "big" if x > 20 else "small"

    shadow = sdk.shadow(
        "fraud", "3.2.0", candidate, describe=lambda label: {"label": label}, workers=3
    )
    wrapped = shadow.wrap(primary)
    assert [wrapped(x) for x in range(1, 51)] == [primary(x) for x in range(1, 51)]
    wait_for(lambda: shadow.report().ran == 50, timeout=30, what="50 shadow runs")
    assert sdk.close(timeout=30) == 0  # closes the shadow too

    codec = Codec()
    events = [
        codec.decode_as("PredictionEvent", m.value())
        for m in consume(kafka_settings, prefix + "predictions", 51, timeout=10)
    ]
    assert len(events) == 50
    assert {(e["model"], e["version"], e["variant"]) for e in events} == {
        ("fraud", "3.2.0", "shadow")
    }
    statuses = sorted((e["status"], e["prediction_label"], e["error_type"]) for e in events)
    assert statuses == sorted(
        [("ERROR", None, "ValueError")] * 5
        + [("OK", candidate(x), None) for x in range(1, 51) if x % 10]
    )
    report = shadow.report()
    # 1..10 small/small, 11..20 big/small, 21..50 big/big; round numbers never compared.
    assert (report.submitted, report.ran, report.errors, report.compared) == (50, 50, 5, 45)
    assert report.agreed == 9 + 0 + 27
