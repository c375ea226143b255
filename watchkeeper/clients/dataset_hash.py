"""A dataset's content hash, as the registry records it: ``sha256:`` of a file's bytes, or
of the ordered record hashes of a topic range (each committed record's value hashed,
those hashes hashed in partition and offset order), so that the same range read twice,
or by anyone, gives the same hash and any changed, added or removed record a new one.

A topic range is the records whose timestamps fall in ``[start_ms, end_ms)``; its
OpenLineage name is ``kafka://<broker>/<topic>`` (namespace ``kafka://host:port``, name
the topic), so a job that reads the topic and the dataset meet in the lineage graph.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..settings import KafkaSettings


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class TopicRange:
    topic: str
    start_ms: int
    end_ms: int
    records: int
    content_hash: str
    uri: str


def topic_range(
    settings: KafkaSettings, topic: str, start_ms: int, end_ms: int, timeout_s: float = 120.0
) -> TopicRange:
    """Read the committed records of ``topic`` stamped in ``[start_ms, end_ms)`` and hash them."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    if end_ms <= start_ms:
        raise ValueError(f"the range ends ({end_ms}) before it starts ({start_ms})")
    consumer = Consumer(
        settings.confluent(
            **{
                "group.id": f"wk-dataset-hash-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
    )
    try:
        found = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise ValueError(f"no topic {topic!r} on {settings.bootstrap_servers}")
        parts = sorted(found.partitions)
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, p, start_ms) for p in parts], timeout=timeout_s
        )
        ends = consumer.offsets_for_times(
            [TopicPartition(topic, p, end_ms) for p in parts], timeout=timeout_s
        )
        hashes: dict[int, list[bytes]] = {p: [] for p in parts}
        for first, last in zip(starts, ends, strict=True):
            # -1: no record at or after that time; then the range runs to the end now.
            high = consumer.get_watermark_offsets(TopicPartition(topic, first.partition))[1]
            stop = last.offset if last.offset >= 0 else high
            begin = first.offset if first.offset >= 0 else high
            if begin >= stop:
                continue
            consumer.assign([TopicPartition(topic, first.partition, begin)])
            while True:
                message = consumer.poll(timeout_s)
                if message is None:
                    raise TimeoutError(
                        f"reading {topic}[{first.partition}] took over {timeout_s} s"
                    )
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        break
                    raise KafkaException(error)
                if message.offset() >= stop:
                    break
                stamp = message.timestamp()[1]
                if start_ms <= stamp < end_ms:
                    hashes[first.partition].append(hashlib.sha256(message.value() or b"").digest())
                if message.offset() + 1 >= stop:
                    break
    finally:
        consumer.close()
    digest = hashlib.sha256()
    count = 0
    for partition in parts:
        for h in hashes[partition]:
            digest.update(h)
            count += 1
    broker = settings.bootstrap_servers.split(",")[0]
    return TopicRange(
        topic, start_ms, end_ms, count, "sha256:" + digest.hexdigest(), f"kafka://{broker}/{topic}"
    )
