"""Measuring replication lag on real clusters: the Kafka side of ``mirror.lag``.

Per partition: a's end offset, b's newest record, where that record sits on a (a
``offsets_for_times`` lookup, then a short scan of that millisecond's records), and the
first committed record on a after it. A result is reused while neither end offset moved,
so a quiet system costs two watermark requests per partition and poll.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from .lag import PartitionLag, Record, match

SCAN_LIMIT = 10_000  # records of one millisecond on a searched for b's newest one


class ProbeError(RuntimeError):
    """A cluster (``cluster``: "source" or "target") did not answer within the timeout."""

    def __init__(self, cluster: str, message: str) -> None:
        super().__init__(f"{cluster} cluster: {message}")
        self.cluster = cluster


def _consumer(bootstrap: str, extra: dict | None = None) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "wk-replication-probe",  # never joined nor committed: assign only
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            "socket.connection.setup.timeout.ms": 3000,
            "log_level": 0,
            **(extra or {}),
        }
    )


@dataclass
class _Cached:
    ends: tuple[int, int]
    first_missing: tuple[int, int] | None


@dataclass
class LagProbe:
    """Lag of ``topic``/``partition`` from ``source`` (a) to ``target`` (b)."""

    source: str
    target: str
    timeout: float = 5.0
    source_extra: dict = field(default_factory=dict)
    target_extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._a = _consumer(self.source, self.source_extra)
        self._b = _consumer(self.target, self.target_extra)
        self._cache: dict[tuple[str, int], _Cached] = {}

    def close(self) -> None:
        self._a.close()
        self._b.close()

    def partitions(self, topics: list[str], on: str = "source") -> dict[str, int]:
        """Topic -> partition count on a (or b), for those of ``topics`` that exist."""
        consumer = self._a if on == "source" else self._b
        try:
            meta = consumer.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise ProbeError(on, str(exc)) from exc
        return {t: len(meta.topics[t].partitions) for t in topics if t in meta.topics}

    def topics_with_prefix(self, prefix: str, on: str = "source") -> dict[str, int]:
        consumer = self._a if on == "source" else self._b
        try:
            meta = consumer.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise ProbeError(on, str(exc)) from exc
        return {t: len(m.partitions) for t, m in meta.topics.items() if t.startswith(prefix)}

    def lag(self, topic: str, partition: int, now_ms: int | None = None) -> PartitionLag:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        a_low, a_end = self._watermarks(self._a, topic, partition, "source")
        try:
            b_low, b_end = self._watermarks(self._b, topic, partition, "target")
        except _NoSuchPartition:
            b_low = b_end = 0
        key = (topic, partition)
        cached = self._cache.get(key)
        if cached is None or cached.ends != (a_end, b_end):
            # An empty partition on a has nothing to copy (most of a fresh prefix's topics).
            first = (
                None
                if a_end <= a_low
                else self._first_missing(topic, partition, a_low, b_low, b_end)
            )
            cached = self._cache[key] = _Cached((a_end, b_end), first)
        return PartitionLag.of(topic, partition, a_end, cached.first_missing, now_ms)

    def _watermarks(self, consumer: Consumer, topic: str, partition: int, on: str):
        try:
            return consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=self.timeout, cached=False
            )
        except KafkaException as exc:
            code = exc.args[0].code() if exc.args else None
            if code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_PARTITION):
                raise _NoSuchPartition from exc
            raise ProbeError(on, str(exc)) from exc

    def _first_missing(
        self, topic: str, partition: int, a_low: int, b_low: int, b_end: int
    ) -> tuple[int, int] | None:
        start = a_low
        newest = self._newest(topic, partition, b_low, b_end) if b_end > b_low else None
        if newest is not None:
            try:
                found = self._a.offsets_for_times(
                    [TopicPartition(topic, partition, newest.timestamp_ms)], timeout=self.timeout
                )[0].offset
            except KafkaException as exc:
                raise ProbeError("source", str(exc)) from exc
            if found >= 0:
                records, _ = self._read(self._a, topic, partition, found, SCAN_LIMIT, stop=newest)
                at = match(newest, records)
                start = found if at is None else at + 1
            else:
                return None  # nothing on a at or after b's newest record: nothing missing
        records, at_end = self._read(self._a, topic, partition, start, 1)
        if records:
            return records[0].offset, records[0].timestamp_ms
        if not at_end:
            raise ProbeError("source", f"reading {topic} [{partition}] timed out")
        return None

    def _newest(self, topic: str, partition: int, low: int, end: int) -> Record | None:
        # b is written without transactions, so end - 1 holds a record; widen the window
        # if markers (an exactly-once MM2) sit at the end.
        for window in (1, 64, 4096):
            records, at_end = self._read(self._b, topic, partition, max(low, end - window), window)
            if records:
                return records[-1]
            if not at_end:  # b stopped answering: say so, not "b is empty"
                raise ProbeError("target", f"reading {topic} [{partition}] timed out")
        return None

    def _read(
        self,
        consumer: Consumer,
        topic: str,
        partition: int,
        start: int,
        limit: int,
        stop: Record | None = None,
    ) -> tuple[list[Record], bool]:
        """Up to ``limit`` committed records from ``start`` (or until past ``stop``'s
        timestamp); also whether the partition's end was reached."""
        consumer.assign([TopicPartition(topic, partition, start)])
        out: list[Record] = []
        deadline = time.monotonic() + self.timeout
        while len(out) < limit and time.monotonic() < deadline:
            for message in consumer.consume(min(500, limit - len(out)), timeout=0.2):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        return out, True
                    on = "source" if consumer is self._a else "target"
                    raise ProbeError(on, f"reading {topic} [{partition}]: {error}")
                out.append(
                    Record(message.offset(), message.timestamp()[1], message.key(), message.value())
                )
                if stop is not None and out[-1].timestamp_ms > stop.timestamp_ms:
                    return out, False
        return out, False


class _NoSuchPartition(Exception):
    pass


def wait_caught_up(
    source: str, target: str, topics: dict[str, int] | list[str], timeout: float = 60.0
) -> dict[tuple[str, int], PartitionLag]:
    """Wait until every partition of ``topics`` on a has nothing missing on b; return the
    last lag of each. Raises TimeoutError naming the partitions still behind."""
    probe = LagProbe(source, target)
    try:
        wanted = topics if isinstance(topics, dict) else probe.partitions(list(topics))
        deadline = time.monotonic() + timeout
        while True:
            lags = {}
            for topic, count in wanted.items():
                for partition in range(count):
                    try:
                        lags[(topic, partition)] = probe.lag(topic, partition)
                    except ProbeError:  # b still creating the topic, or slow: try again
                        lags[(topic, partition)] = PartitionLag(topic, partition, -1, -1.0)
            behind = {k: v for k, v in lags.items() if v.records != 0}
            if not behind:
                return lags
            if time.monotonic() > deadline:
                raise TimeoutError(f"not caught up after {timeout:.0f} s: {sorted(behind)}")
            time.sleep(0.2)
    finally:
        probe.close()
