"""Reading what a run produced, exactly: a topic to its end offsets, and a group's lag.

Reading "until N messages arrived" cannot see duplicates (it stops at N). These read every
committed record up to the end offsets taken when the read starts, so a duplicate shows up
as one record too many, and a group counts as caught up only when its committed offsets
reach the end of every input partition.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from ..settings import KafkaSettings


def _reader(settings: KafkaSettings) -> Consumer:
    return Consumer(
        settings.confluent(
            **{
                "group.id": f"read-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
    )


def end_offsets(settings: KafkaSettings, topic: str, timeout: float = 30.0) -> dict[int, int]:
    """{partition: high watermark} of ``topic``."""
    consumer = _reader(settings)
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
            for p in metadata.partitions
        }
    finally:
        consumer.close()


def read_to_end(settings: KafkaSettings, topic: str, timeout: float = 60.0) -> list:
    """Every committed message of ``topic`` from the start to the end offsets it has now.

    Read-committed: records of aborted transactions are skipped, and a transaction still
    open makes this wait (up to ``timeout``) rather than return a partial picture.
    """
    ends = end_offsets(settings, topic, timeout)
    consumer = _reader(settings)
    messages = []
    pending = {p for p, end in ends.items() if end > 0}
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in pending])
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{topic}: partitions {sorted(pending)} not read to their end offsets "
                    f"{ {p: ends[p] for p in pending} } in {timeout} s"
                )
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(message.error())
                if message.offset() >= ends[message.partition()]:
                    pending.discard(message.partition())
                continue
            if message.offset() < ends[message.partition()]:
                messages.append(message)
    finally:
        consumer.close()
    return messages


def group_lag(settings: KafkaSettings, group: str, topics: list[str]) -> int:
    """Committed records of ``topics`` that ``group`` has not committed past yet.

    Not just end offset - committed: a transaction's commit marker takes an offset after
    the last record, and a consumer commits the record's next offset, not the marker's;
    so a partition behind only by markers counts as caught up.
    """
    admin = AdminClient(settings.confluent())
    ends = {(t, p): end for t in topics for p, end in end_offsets(settings, t).items()}
    request = [TopicPartition(t, p) for t, p in ends]
    future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, request)])
    committed = {
        (tp.topic, tp.partition): max(tp.offset, 0)
        for tp in future[group].result(timeout=30).topic_partitions
    }
    behind = {
        key: committed.get(key, 0) for key, end in ends.items() if end > committed.get(key, 0)
    }
    return _records_after(settings, behind, ends) if behind else 0


def _records_after(
    settings: KafkaSettings, starts: dict[tuple[str, int], int], ends: dict, timeout: float = 30.0
) -> int:
    """How many committed records lie between ``starts`` and ``ends`` (markers do not count)."""
    consumer = _reader(settings)
    found = 0
    pending = set(starts)
    try:
        consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in starts.items()])
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            key = (message.topic(), message.partition())
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(message.error())
                if message.offset() >= ends[key]:
                    pending.discard(key)
            elif message.offset() < ends[key]:
                found += 1
        if pending:  # an open transaction holds the rest back: not caught up
            found += len(pending)
    finally:
        consumer.close()
    return found


def wait_caught_up(
    settings: KafkaSettings, groups: dict[str, list[str]], timeout: float = 120.0
) -> float:
    """Wait until every group has committed to the end of its topics; return the seconds
    it took. ``groups`` is {group id: [input topics]}."""
    started = time.monotonic()
    behind: dict[str, int] = {}
    while time.monotonic() - started < timeout:
        behind = {}
        for group, topics in groups.items():
            try:
                lag = group_lag(settings, group, topics)
            except KafkaException:  # the broker is still coming back: ask again
                lag = -1
            if lag != 0:
                behind[group] = lag
        if not behind:
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"groups not caught up in {timeout} s (lag, -1 = unknown): {behind}")
