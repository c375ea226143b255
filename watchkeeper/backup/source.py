"""Reading a source cluster for a backup: the cut (every partition's last stable offset,
taken before any record is read), topic configs, and a partition's committed records up
to the cut."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, OffsetSpec

from ..settings import KafkaSettings
from .records import Record

Cut = dict[tuple[str, int], tuple[int, int]]  # (topic, partition) -> (start, end)


class Source:
    def __init__(self, settings: KafkaSettings, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.admin = AdminClient(settings.confluent())
        metadata = self.admin.list_topics(timeout=timeout)
        self.cluster_id = metadata.cluster_id or ""
        self.partitions = {
            name: len(t.partitions) for name, t in metadata.topics.items() if t.error is None
        }

    def cut(self, topics: list[str], since_ms: dict[str, int] | None = None) -> Cut:
        """{(topic, partition): (first offset to read, end offset)} for ``topics``; the end
        is the last stable offset (what read_committed can see), all taken up front so the
        backup is one moment's state however long the reading takes. ``since_ms`` starts
        a topic at its first record at or after that time instead of its beginning."""
        since_ms = since_ms or {}
        tps = [TopicPartition(t, p) for t in topics for p in range(self.partitions[t])]
        ends = self._offsets({tp: OffsetSpec.latest() for tp in tps})
        starts = self._offsets({tp: OffsetSpec.earliest() for tp in tps})
        timed = {
            tp: OffsetSpec.for_timestamp(since_ms[tp.topic]) for tp in tps if tp.topic in since_ms
        }
        for key, offset in self._offsets(timed).items():
            # -1: no record at or after the time; nothing to read in that partition.
            starts[key] = ends[key] if offset < 0 else max(offset, starts[key])
        return {key: (min(starts[key], ends[key]), ends[key]) for key in ends}

    def _offsets(self, specs: dict) -> dict[tuple[str, int], int]:
        if not specs:
            return {}
        futures = self.admin.list_offsets(
            specs, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=self.timeout
        )
        return {
            (tp.topic, tp.partition): future.result(self.timeout).offset
            for tp, future in futures.items()
        }

    def configs(self, topic: str) -> dict[str, str]:
        """The topic's configs set on it (not the broker's defaults)."""
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        future = self.admin.describe_configs([resource], request_timeout=self.timeout)[resource]
        return {
            name: entry.value
            for name, entry in future.result(self.timeout).items()
            if entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and entry.value is not None
        }

    def read(self, topic: str, partition: int, start: int, end: int) -> Iterator[Record]:
        """The committed records of one partition from ``start`` up to ``end`` (exclusive).
        Aborted transactions' records and transaction markers take offsets but are never
        delivered, so the reading ends at the first record or end-of-partition at/after
        ``end - 1``."""
        if start >= end:
            return
        consumer = Consumer(
            self.settings.confluent(
                **{
                    "group.id": f"wk-backup-{uuid.uuid4().hex}",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "isolation.level": "read_committed",
                    "auto.offset.reset": "earliest",
                }
            )
        )
        try:
            consumer.assign([TopicPartition(topic, partition, start)])
            deadline = time.monotonic() + self.timeout
            while True:
                batch = consumer.consume(1000, 0.5)
                if not batch and time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{topic}[{partition}]: nothing read for {self.timeout:.0f} s before "
                        f"offset {end}"
                    )
                for message in batch:
                    deadline = time.monotonic() + self.timeout
                    error = message.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            raise KafkaException(error)
                        if message.offset() >= end:
                            return
                        continue
                    if message.offset() >= end:
                        return
                    kind, ts = message.timestamp()
                    yield Record(
                        message.offset(),
                        ts,
                        kind,
                        message.key(),
                        message.value(),
                        list(message.headers() or []),
                    )
                    if message.offset() >= end - 1:
                        return
        finally:
            consumer.close()
