"""Measuring replication lag on real clusters: the Kafka side of ``mirror.lag``.

Per partition: a's end offset, b's newest record, where that record sits on a (a
``offsets_for_times`` lookup, then a short scan of that millisecond's records), and the
first committed record on a after it. End offsets are asked for all partitions at once
(``ListOffsets`` per cluster), and a partition's result is reused while neither of its end
offsets moved, so a quiet system reads no records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from .lag import PartitionLag, Record, match

SCAN_LIMIT = 10_000  # records of one millisecond on a searched for b's newest one


UNKNOWN = {
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._UNKNOWN_TOPIC,
}


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


def _admin(bootstrap: str, extra: dict | None = None):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 0,
                        "socket.connection.setup.timeout.ms": 3000, **(extra or {})})  # fmt: skip


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
        self._admin = {
            "source": _admin(self.source, self.source_extra),
            "target": _admin(self.target, self.target_extra),
        }
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
        lags, errors = self.lags({topic: partition + 1}, now_ms, only=(topic, partition))
        if errors:
            raise errors[0]
        if not lags:
            raise ProbeError("source", f"{topic} [{partition}] does not exist")
        return lags[0]

    def lags(
        self,
        topics: dict[str, int],
        now_ms: int | None = None,
        only: tuple[str, int] | None = None,
    ) -> tuple[list[PartitionLag], list[ProbeError]]:
        """Every partition's lag, with the end offsets of all of them asked in one batch
        per cluster (a poll of a hundred partitions is four requests when nothing moved).
        A partition that fails (no leader yet, a timeout) is in the errors instead."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        wanted = [(t, p) for t, n in sorted(topics.items()) for p in range(n)]
        if only is not None:
            wanted = [only]
        a_ends = self._ends("source", wanted)
        b_ends = self._ends("target", wanted)
        lags: list[PartitionLag] = []
        errors: list[ProbeError] = []
        for key in wanted:
            a_range, b_range = a_ends.get(key), b_ends.get(key)
            if a_range is None:  # deleted on a since its metadata was read
                continue
            if isinstance(a_range, ProbeError) or isinstance(b_range, ProbeError):
                errors.append(a_range if isinstance(a_range, ProbeError) else b_range)
                continue
            (a_low, a_end), (b_low, b_end) = a_range, b_range or (0, 0)
            cached = self._cache.get(key)
            try:
                if cached is None or cached.ends != (a_end, b_end):
                    # An empty partition on a has nothing to copy (most of a fresh prefix).
                    first = (
                        None if a_end <= a_low else self._first_missing(*key, a_low, b_low, b_end)
                    )
                    cached = self._cache[key] = _Cached((a_end, b_end), first)
            except ProbeError as exc:
                errors.append(exc)
                continue
            lags.append(PartitionLag.of(*key, a_end, cached.first_missing, now_ms))
        return lags, errors

    def _ends(self, on: str, wanted: list[tuple[str, int]]) -> dict:
        """(topic, partition) -> (earliest, end) on one cluster; a ProbeError for a
        partition that could not say; absent for one that does not exist there."""
        from confluent_kafka.admin import OffsetSpec

        found: dict = {}
        if not wanted:
            return found
        admin = self._admin[on]
        for spec, index in ((OffsetSpec.earliest(), 0), (OffsetSpec.latest(), 1)):
            futures = admin.list_offsets(
                {TopicPartition(t, p): spec for t, p in wanted}, request_timeout=self.timeout
            )
            for tp, future in futures.items():
                key = (tp.topic, tp.partition)
                if isinstance(found.get(key), ProbeError):
                    continue
                try:
                    offset = future.result(timeout=self.timeout + 1).offset
                except KafkaException as exc:
                    code = exc.args[0].code() if exc.args else None
                    if code in UNKNOWN:
                        found.pop(key, None)
                        continue
                    found[key] = ProbeError(on, f"{key[0]} [{key[1]}]: {exc}")
                    continue
                except Exception as exc:  # a future that timed out
                    found[key] = ProbeError(on, f"{key[0]} [{key[1]}]: {exc!r}")
                    continue
                pair = list(found.get(key, (0, 0)))
                pair[index] = offset
                found[key] = tuple(pair)
        return found

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
            found, _ = probe.lags(wanted)
            lags = {(lag.topic, lag.partition): lag for lag in found}
            # A partition that could not answer (b still creating the topic) counts as behind.
            behind = [k for t, n in wanted.items() for k in ((t, p) for p in range(n))
                      if k not in lags or lags[k].records != 0]  # fmt: skip
            if not behind:
                return lags
            if time.monotonic() > deadline:
                raise TimeoutError(f"not caught up after {timeout:.0f} s: {sorted(behind)}")
            time.sleep(0.2)
    finally:
        probe.close()
