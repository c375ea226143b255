"""What the archive tests share: events on the data topics with chosen timestamps, what the
tiers hold, and what the topics hold, both as {(topic, partition, offset): event}."""

from __future__ import annotations

import uuid
from collections import Counter

from confluent_kafka import Producer

from watchkeeper import topics
from watchkeeper.codec import Codec
from watchkeeper.devstack._offsets import read_to_end
from watchkeeper.settings import KafkaSettings
from watchkeeper.tiering.columns import Columns
from watchkeeper.tiering.store import Store

CODEC = Codec()
MODELS = ("fraud", "recsys", "chat", "churn", "ranker", "ocr", "asr", "tts")
DAY_MS = 86_400_000


def event(topic: str, i: int, now_ms: int) -> dict:
    model = MODELS[i % len(MODELS)]
    base = {"event_id": f"{topic[:4]}-{uuid.uuid4().hex[:12]}", "event_time_ms": now_ms,
            "model": model, "version": "1"}  # fmt: skip
    if topic == "predictions":
        return {**base, "latency_ms": float(i % 97), "num_features": {"amount": i * 1.5},
                "cat_features": {"channel": "web"}, "score": (i % 100) / 100}  # fmt: skip
    if topic == "feedback":
        return {**base, "label": "fraud" if i % 3 else "legit"}
    return {**base, "host": f"vm-{i % 5}", "cpu_utilization": (i % 10) / 10}


def produce(
    settings: KafkaSettings, prefix: str, topic: str, count: int, timestamp_ms: int
) -> None:
    """``count`` valid events on ``topic``, every record stamped ``timestamp_ms``."""
    schema = topics.spec(topic).schema
    producer = Producer(settings.confluent(**{"enable.idempotence": True, "acks": "all"}))
    for i in range(count):
        record = event(topic, i, timestamp_ms)
        producer.produce(prefix + topic, key=record["model"].encode(),
                         value=CODEC.encode(schema, record), timestamp=timestamp_ms)  # fmt: skip
        if i % 1000 == 999:
            producer.flush(30)
    assert producer.flush(30) == 0


def produce_raw(settings: KafkaSettings, topic: str, value: bytes | None, key: bytes) -> None:
    producer = Producer(settings.confluent(**{"enable.idempotence": True, "acks": "all"}))
    producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def in_topic(settings: KafkaSettings, prefix: str, topic: str) -> dict:
    """Every valid event of the topic to its end offsets, by its coordinates."""
    found = {}
    for message in read_to_end(settings, prefix + topic):
        try:
            record = CODEC.decode_as(topics.spec(topic).schema, message.value())
        except Exception:  # the test's deliberate bad messages: the dlq's business
            continue
        found[(message.topic(), message.partition(), message.offset())] = (
            message.timestamp()[1],
            record,
        )
    return found


def in_tiers(root: str, topic: str) -> tuple[dict, Counter]:
    """What a reader of the tiers gets for ``topic``, and how often each coordinate came."""
    store = Store.open(root)
    columns = Columns.of(CODEC, topics.spec(topic).schema)
    found, seen = {}, Counter()
    for part in store.readable(topic):
        for coordinates, record in columns.rows(store.read(part.path)):
            key = (coordinates.topic, coordinates.partition, coordinates.offset)
            seen[key] += 1
            found[key] = (coordinates.timestamp_ms, record)
    return found, seen


def assert_exact(settings: KafkaSettings, prefix: str, root: str, topic: str, keep=None) -> int:
    """The tiers hold exactly the topic's records (``keep(timestamp_ms)`` filters those
    retention deleted), each once, field for field; returns how many."""
    expected = in_topic(settings, prefix, topic)
    if keep is not None:
        expected = {k: v for k, v in expected.items() if keep(v[0])}
    found, seen = in_tiers(root, topic)
    doubled = {k: n for k, n in seen.items() if n > 1}
    assert not doubled, f"{topic}: {len(doubled)} records in two files, e.g. {list(doubled)[:3]}"
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    assert not missing and not extra, f"{topic}: missing {missing[:5]}, extra {extra[:5]}"
    for key, (timestamp, record) in expected.items():
        assert found[key] == (timestamp, record), key
    return len(expected)


def committed_lag(settings: KafkaSettings, group: str, topics_: list[str]) -> int:
    """Records of ``topics_`` (produced without transactions) past ``group``'s commits.

    Asked with a consumer that never joins the group: the AdminClient's offset listing
    crashed the test process (SIGSEGV in librdkafka's rd_kafka_handle_OffsetFetch) while
    a fresh broker was still loading its offsets topic."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(settings.confluent(**{"group.id": group, "enable.auto.commit": False}))
    try:
        tps = [
            TopicPartition(t, p)
            for t in topics_
            for p in consumer.list_topics(t, timeout=30).topics[t].partitions
        ]
        behind = 0
        for tp in consumer.committed(tps, timeout=30):
            high = consumer.get_watermark_offsets(tp, timeout=30)[1]
            behind += high - max(tp.offset, 0)
        return behind
    finally:
        consumer.close()


def wait_archived(settings: KafkaSettings, prefix: str, timeout: float = 120.0) -> None:
    """Until the archive's group has committed every record of the data topics."""
    import time

    group, names = (
        prefix + "archive",
        [prefix + t for t in ("predictions", "feedback", "telemetry")],
    )
    deadline = time.monotonic() + timeout
    from confluent_kafka import KafkaException

    while True:
        try:
            lag = committed_lag(settings, group, names)
        except KafkaException as exc:  # the coordinator is still loading or moving
            lag = f"unknown ({exc})"
        if lag == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"archive still {lag} records behind after {timeout} s")
        time.sleep(0.3)
