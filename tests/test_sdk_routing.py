"""emitter.assign against a real broker: the routing topic's splits reach the SDK, and
neither a bad record nor a broker going away changes what callers get.

Only the broker-away test starts (and kills) a broker of its own; it is also a ``faults``
test."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY

from loadtest.routing_propagation import measure
from watchkeeper import topic_admin
from watchkeeper.codec import Codec
from watchkeeper.sdk import Assignment, Emitter, Split, Variant
from watchkeeper.settings import KafkaSettings
from watchkeeper.topics import spec

from .helpers import consume, wait_for

KEYS = [f"user-{i}" for i in range(1000)]
CANARY = Split(
    "fraud",
    (Variant("baseline", "3.1.0", 90.0), Variant("canary", "3.2.0", 10.0)),
    rollout="r-1",
    seq=1,
)
NOWHERE = KafkaSettings("127.0.0.1:1")


def produce(settings: KafkaSettings, prefix: str, *records: tuple[str, bytes | None]) -> None:
    producer = Producer(settings.confluent(**{"acks": "all", "enable.idempotence": True}))
    for key, value in records:
        producer.produce(prefix + "routing", value, key.encode())
    assert producer.flush(30) == 0


def expected(split: Split, key: str) -> Assignment:
    chosen = split.assign(key)
    return Assignment(split.model, chosen.version, chosen.name, split.seq)


@pytest.fixture
def emitters(kafka_settings, prefix):
    made: list[Emitter] = []

    def make(settings: KafkaSettings | None = None, **kwargs) -> Emitter:
        emitter = Emitter(
            settings or kafka_settings,
            prefix=prefix,
            client_id=f"routing-{uuid.uuid4().hex[:8]}",
            buffer_size=100,
            **kwargs,
        )
        made.append(emitter)
        return emitter

    yield make
    for emitter in made:
        emitter.close(timeout=5)


# -- without a broker ----------------------------------------------------------------------


def test_a_missing_key_is_refused_by_name() -> None:
    emitter = Emitter(NOWHERE, buffer_size=10, client_id="routing-key")
    try:
        for key in (None, ""):
            with pytest.raises(ValueError, match="assign: key must be a non-empty string"):
                emitter.assign("fraud", key)
        with pytest.raises(ValueError, match="assign: model"):
            emitter.assign("", "user-1")
    finally:
        emitter.close(timeout=0)


def test_an_emitter_that_never_assigns_opens_no_consumer() -> None:
    emitter = Emitter(NOWHERE, buffer_size=10, client_id="routing-never")
    emitter.prediction(model="fraud", version="1", latency_ms=1.0)
    assert emitter._routing._thread is None
    assert not [t for t in threading.enumerate() if t.name == "wk-routing-routing-never"]
    emitter.close(timeout=0)


def test_no_split_known_is_the_callers_default_at_once() -> None:
    emitter = Emitter(NOWHERE, buffer_size=10, client_id="routing-default")
    try:
        assert emitter.assign("fraud", "user-1", default_version="3.0.0") == Assignment(
            "fraud", "3.0.0", "default", 0
        )
        assert emitter.assign("fraud", 42) == Assignment("fraud", None, "default", 0)
        assert emitter._routing._thread is not None  # the first assign started the reader
    finally:
        emitter.close(timeout=0)


def test_an_assignment_sets_version_and_variant_and_refuses_contradictions() -> None:
    emitter = Emitter(NOWHERE, buffer_size=10, client_id="routing-fields")
    chosen = Assignment("fraud", "3.2.0", "canary", 4)
    try:
        with emitter.timed(assignment=chosen) as call:
            call.set(label="legit")
        assert (call.record["model"], call.record["version"], call.record["variant"]) == (
            "fraud",
            "3.2.0",
            "canary",
        )
        with pytest.raises(ValueError, match=r"version='3\.1\.0' contradicts"):
            emitter.prediction(version="3.1.0", latency_ms=1.0, assignment=chosen)
        with pytest.raises(ValueError, match="variant='baseline' contradicts"):
            emitter.timed(assignment=chosen, variant="baseline")
        with pytest.raises(ValueError, match="model='chat' contradicts"):
            emitter.instrument(model="chat", assignment=chosen)
        # No split and no default: the caller's explicit version fills the gap.
        fallback = Assignment("fraud", None, "default", 0)
        emitter.prediction(version="3.0.0", latency_ms=1.0, assignment=fallback)
    finally:
        emitter.close(timeout=0)


# -- on the broker ---------------------------------------------------------------------------


@pytest.mark.kafka
def test_assignment_follows_the_produced_split_and_rides_on_events(
    kafka_settings, prefix, emitters
) -> None:
    produce(kafka_settings, prefix, ("fraud", CANARY.to_json()))
    emitter = emitters()
    assert emitter.wait_for_routing(30)
    answers = [emitter.assign("fraud", key, default_version="3.0.0") for key in KEYS]
    assert answers == [expected(CANARY, key) for key in KEYS]
    assert {a.variant for a in answers} == {"baseline", "canary"}

    @emitter.instrument(assignment=answers[0])
    def predict(x: float) -> float:
        return x

    predict(1.0)
    for answer in answers[1:10]:
        emitter.prediction(latency_ms=2.0, assignment=answer)
    assert emitter.flush(30) == 0
    codec = Codec()
    events = [
        codec.decode_as("PredictionEvent", m.value())
        for m in consume(kafka_settings, prefix + "predictions", 10)
    ]
    assert sorted((e["version"], e["variant"]) for e in events) == sorted(
        (a.version, a.variant) for a in answers[:10]
    )


@pytest.mark.kafka
def test_a_weight_change_reaches_three_emitters(kafka_settings, prefix, emitters) -> None:
    produce(kafka_settings, prefix, ("fraud", CANARY.to_json()))
    sdks = [emitters() for _ in range(3)]
    assert all(sdk.wait_for_routing(30) for sdk in sdks)
    raised = Split("fraud", CANARY.with_weights({"baseline": 50.0, "canary": 50.0}).variants, seq=2)
    produce(kafka_settings, prefix, ("fraud", raised.to_json()))
    wait_for(
        lambda: all(sdk.assign("fraud", "probe").seq == 2 for sdk in sdks),
        timeout=30,
        what="every emitter on seq 2",
    )
    for sdk in sdks:
        assert [sdk.assign("fraud", key) for key in KEYS] == [expected(raised, k) for k in KEYS]


@pytest.mark.kafka
def test_a_tombstone_brings_back_the_default(kafka_settings, prefix, emitters) -> None:
    other = Split("chat", (Variant("blue", "7", 100.0),), seq=3)
    produce(kafka_settings, prefix, ("fraud", CANARY.to_json()), ("chat", other.to_json()))
    emitter = emitters()
    assert emitter.wait_for_routing(30)
    assert emitter.assign("fraud", "user-1").seq == 1
    produce(kafka_settings, prefix, ("fraud", None))
    wait_for(
        lambda: (
            emitter.assign("fraud", "user-1", "3.0.0") == Assignment("fraud", "3.0.0", "default", 0)
        ),
        timeout=30,
        what="the tombstone",
    )
    assert emitter.assign("chat", "user-1") == Assignment("chat", "7", "blue", 3)


@pytest.mark.kafka
def test_an_invalid_record_keeps_the_previous_split_and_is_counted(
    kafka_settings, prefix, emitters
) -> None:
    emitter = emitters()
    assert emitter.wait_for_routing(30)  # an empty topic is read at once
    bad_weights = CANARY.to_dict() | {"seq": 2}
    bad_weights["variants"] = [dict(v, weight=60.0) for v in bad_weights["variants"]]
    marker = Split("marker", (Variant("only", "1", 100.0),), seq=1)
    produce(
        kafka_settings,
        prefix,
        ("fraud", CANARY.to_json()),
        ("fraud", b"not json"),
        ("fraud", Split.to_json(CANARY).replace(b'"seq":1', b'"seq":"x"')),
        ("fraud", json.dumps(bad_weights).encode()),
        ("fraud", marker.to_json()),  # the key is not the record's model
        ("marker", marker.to_json()),  # read last: everything before it was read
    )
    wait_for(lambda: emitter.assign("marker", "k").seq == 1, timeout=30, what="the marker")
    assert [emitter.assign("fraud", k) for k in KEYS] == [expected(CANARY, k) for k in KEYS]
    assert emitter._routing.invalid == 4
    counted = REGISTRY.get_sample_value(
        "wk_sdk_routing_invalid_total", {"client_id": emitter.client_id}
    )
    assert counted == 4


@pytest.mark.kafka
def test_a_missing_topic_is_waited_for_quietly(kafka_settings) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."  # no topics made under it yet
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="routing-late", buffer_size=10)
    try:
        assert emitter.assign("fraud", "user-1", "3.0.0").variant == "default"
        assert not emitter.wait_for_routing(1)
        topic_admin.apply(kafka_settings, [spec("routing")], prefix=prefix)
        produce(kafka_settings, prefix, ("fraud", CANARY.to_json()))
        assert emitter.wait_for_routing(60)
        wait_for(lambda: emitter.assign("fraud", "u").seq == 1, timeout=30, what="the split")
        assert emitter._routing._thread.is_alive()
    finally:
        emitter.close(timeout=0)
        topic_admin.delete_prefixed(kafka_settings, prefix)


@pytest.mark.kafka
@pytest.mark.faults
def test_kafka_away_keeps_the_last_split_and_assign_never_waits(own_broker) -> None:
    settings = KafkaSettings(bootstrap_servers=own_broker.bootstrap)
    prefix = f"t{uuid.uuid4().hex[:10]}."
    topic_admin.apply(settings, [spec("routing")], prefix=prefix)
    produce(settings, prefix, ("fraud", CANARY.to_json()))
    emitter = Emitter(
        settings,
        prefix=prefix,
        client_id="routing-away",
        buffer_size=10,
        routing_config={"reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200},
    )
    try:
        assert emitter.wait_for_routing(30)
        assert emitter.assign("fraud", "user-1").seq == 1
        seen = emitter._routing.kafka_errors
        own_broker.kill()
        # The reader has noticed: the broker is gone for it, not merely quiet.
        wait_for(lambda: emitter._routing.kafka_errors > seen, timeout=60, what="a kafka error")
        slowest = 0.0
        for key in KEYS:
            start = time.perf_counter()
            answer = emitter.assign("fraud", key)
            slowest = max(slowest, time.perf_counter() - start)
            assert answer == expected(CANARY, key)
        assert slowest < 0.05  # generous: a dict lookup, nowhere near a Kafka round trip

        own_broker.wait_ready(own_broker.launch())  # back, on its data
        raised = Split("fraud", CANARY.with_weights({"canary": 100.0, "baseline": 0.0}).variants)
        produce(
            settings, prefix, ("fraud", Split.from_dict(raised.to_dict() | {"seq": 2}).to_json())
        )
        wait_for(lambda: emitter.assign("fraud", "u").seq == 2, timeout=90, what="seq 2")
        assert emitter.assign("fraud", "u") == Assignment("fraud", "3.2.0", "canary", 2)
    finally:
        emitter.close(timeout=0)


@pytest.mark.kafka
def test_the_propagation_measurement_returns_one_sample_per_change(
    kafka_bootstrap, kafka_settings
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    try:
        samples = measure(kafka_bootstrap, prefix, sdks=2, changes=3)
    finally:
        topic_admin.delete_prefixed(kafka_settings, prefix)
    assert len(samples) == 3
    assert samples == sorted(samples)
    assert all(s >= 0 for s in samples)
