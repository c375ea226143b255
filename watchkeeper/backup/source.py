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
from ._retry import once_led
from .records import Record

Cut = dict[tuple[str, int], tuple[int, int]]  # (topic, partition) -> (start, end)


class Source:
    def __init__(self, settings: KafkaSettings, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.admin = AdminClient(settings.confluent())
        self._consumer: Consumer | None = None
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

        def ask() -> dict[tuple[str, int], int]:
            futures = self.admin.list_offsets(
                specs, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=self.timeout
            )
            return {
                (tp.topic, tp.partition): future.result(self.timeout).offset
                for tp, future in futures.items()
            }

        return once_led(ask, self.timeout)

    def configs(self, topics: list[str]) -> dict[str, dict[str, str]]:
        """Each topic's configs set on it (not the broker's defaults), in one request."""
        resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics]
        if not resources:
            return {}
        futures = self.admin.describe_configs(resources, request_timeout=self.timeout)
        return {
            resource.name: {
                name: entry.value
                for name, entry in future.result(self.timeout).items()
                if entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
                and entry.value is not None
            }
            for resource, future in futures.items()
        }

    def read(self, cut: Cut) -> Iterator[tuple[str, int, Record]]:
        """The committed records of every partition of ``cut``, from its start up to its
        end (exclusive), partitions interleaved, each in order. All are read at once:
        one fetch round trip per batch, not one per partition.

        Aborted transactions' records and transaction markers take offsets but are never
        delivered, so a partition is done at the first record or end-of-partition at or
        after ``end - 1``."""
        ends = {key: end for key, (start, end) in cut.items() if start < end}
        if not ends:
            return
        consumer = self._reader()
        try:
            consumer.assign([TopicPartition(t, p, cut[(t, p)][0]) for t, p in ends])
            pending = set(ends)
            deadline = time.monotonic() + self.timeout
            while pending:
                # poll returns at the first message (consume would wait out its timeout
                # for a full batch); then whatever else is queued, without waiting.
                first = consumer.poll(0.5)
                batch = [first, *consumer.consume(999, 0)] if first is not None else []
                if not batch and time.monotonic() > deadline:
                    raise TimeoutError(
                        f"nothing read for {self.timeout:.0f} s with partitions left: "
                        + ", ".join(f"{t}[{p}] to {ends[(t, p)]}" for t, p in sorted(pending))
                    )
                for message in batch:
                    deadline = time.monotonic() + self.timeout
                    key = (message.topic(), message.partition())
                    if key not in pending:
                        continue  # past its end already
                    error = message.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            raise KafkaException(error)
                        if message.offset() >= ends[key]:
                            pending.discard(key)
                        continue
                    if message.offset() >= ends[key]:
                        pending.discard(key)
                        continue
                    kind, ts = message.timestamp()
                    yield (
                        key[0],
                        key[1],
                        Record(
                            message.offset(),
                            ts,
                            kind,
                            message.key(),
                            message.value(),
                            list(message.headers() or []),
                        ),
                    )
                    if message.offset() >= ends[key] - 1:
                        pending.discard(key)
        finally:
            consumer.unassign()

    def _reader(self) -> Consumer:
        # One consumer for every partition in turn: a new one per partition costs its
        # connections and metadata each time.
        if self._consumer is None:
            self._consumer = Consumer(
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
        return self._consumer

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
