"""Writing into a target cluster for a restore: what it holds already, creating the
archive's topics, and producing records back to their partitions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from .. import topic_admin
from ..settings import KafkaSettings
from ..topics import TopicSpec
from ._retry import once_led
from .errors import RestoreError
from .manifest import TopicEntry
from .records import Record

# Source configs a restore carries over: they change what the topic accepts or keeps,
# not how this cluster is run (replication and min ISR are the target's own business;
# a LogAppendTime timestamp type would overwrite the timestamps being restored).
CARRIED_CONFIGS = (
    "max.message.bytes",
    "min.compaction.lag.ms",
    "delete.retention.ms",
    "segment.bytes",
    "segment.ms",
    "compression.type",
)


@dataclass(frozen=True)
class RestoredSpec(TopicSpec):
    carried: tuple[tuple[str, str], ...] = ()

    def configs(self) -> dict[str, str]:
        return {**dict(self.carried), **super().configs()}


def spec_of(entry: TopicEntry) -> RestoredSpec:
    """The topic to create from its manifest entry (the partitions the source had).

    >>> e = TopicEntry("silences", "state", 1, compacted=True,
    ...                configs={"cleanup.policy": "compact", "max.message.bytes": "2097152"})
    >>> spec_of(e).configs()
    {'max.message.bytes': '2097152', 'cleanup.policy': 'compact'}
    """
    carried = tuple((k, v) for k, v in sorted(entry.configs.items()) if k in CARRIED_CONFIGS)
    return RestoredSpec(
        entry.name, entry.partitions, entry.retention_ms, entry.compacted, carried=carried
    )


class Target:
    def __init__(self, settings: KafkaSettings, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.admin = AdminClient(settings.confluent())
        self._consumer: Consumer | None = None

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            self._consumer = Consumer(
                self.settings.confluent(
                    **{
                        "group.id": f"wk-restore-{uuid.uuid4().hex}",
                        "enable.auto.commit": False,
                        "isolation.level": "read_committed",
                    }
                )
            )
        return self._consumer

    def holdings(self, topics: Iterable[str]) -> dict[str, int]:
        """{topic: records it holds} for those of ``topics`` that exist with records."""
        existing = self.admin.list_topics(timeout=self.timeout).topics
        held = {}
        for topic in topics:
            if topic not in existing:
                continue
            count = sum(
                high - low
                for low, high in (self.watermarks(topic, p) for p in existing[topic].partitions)
            )
            if count:
                held[topic] = count
        return held

    def create(self, specs: list[TopicSpec], prefix: str) -> None:
        topic_admin.apply(self.settings, specs=specs, prefix=prefix, timeout=self.timeout)

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        return once_led(
            lambda: self.consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=self.timeout, cached=False
            ),
            self.timeout,
        )

    def record_at(self, topic: str, partition: int, offset: int) -> Record | None:
        """The committed record at ``offset`` or the first after it; None at the end."""
        consumer = self.consumer
        consumer.assign([TopicPartition(topic, partition, offset)])
        try:
            message = consumer.poll(self.timeout)
            if message is None:
                return None
            if message.error() is not None:
                if message.error().code() == KafkaError._PARTITION_EOF:
                    return None
                raise KafkaException(message.error())
            kind, ts = message.timestamp()
            headers = list(message.headers() or [])
            return Record(message.offset(), ts, kind, message.key(), message.value(), headers)
        finally:
            consumer.unassign()

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()


class Writer:
    """An idempotent producer (no duplicates, no reordering within a partition across its
    retries) that puts each record on its own partition with its timestamp and headers."""

    def __init__(self, settings: KafkaSettings, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.producer = Producer(
            settings.confluent(
                **{
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 5,
                    "batch.size": 1_000_000,
                    "compression.type": "lz4",
                    # A restore waits out a broker's restart rather than failing at once.
                    "message.timeout.ms": int(timeout * 1000),
                }
            )
        )
        self.failures: list[str] = []

    def _delivered(self, error, message) -> None:
        if error is not None:
            self.failures.append(f"{message.topic()}[{message.partition()}]: {error}")

    def put(self, topic: str, partition: int, record: Record) -> None:
        extra = {"timestamp": record.timestamp_ms} if record.timestamp_ms > 0 else {}
        while True:
            try:
                self.producer.produce(
                    topic,
                    value=record.value,
                    key=record.key,
                    partition=partition,
                    headers=record.headers or None,
                    on_delivery=self._delivered,
                    **extra,
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                self.producer.poll(0.5)
        self.producer.poll(0)

    def flush(self) -> None:
        left = self.producer.flush(self.timeout)
        if left:
            self.failures.append(f"{left} records not acknowledged in {self.timeout:.0f} s")
        if self.failures:
            raise RestoreError(
                "the target did not take every record: "
                + "; ".join(self.failures[:5])
                + "; the partitions written so far stay: run the restore again with --force "
                "to finish (complete partitions are skipped, partial ones resumed)"
            )
