"""Reading a compacted topic whole: every partition from the beginning to the end it had
when the reading started.

Services keep state on compacted topics and rebuild it at start: the router its
notification log, silences and escalations; drift its references; quality its gates. The
reader assigns every partition itself (no consumer group membership, nothing committed),
reads committed transactions only, and gives each record as ``(key, value, partition,
offset)``, oldest first per partition, ``value`` None for a tombstone.

``read`` stops at the ends captured at start (a topic written to meanwhile still
finishes) and raises ``TimeoutError`` past ``timeout_s``. ``Table`` does the same on a
thread, says when it got there (``ready``), and then keeps following the topic.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import NamedTuple

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as TP

from ..settings import KafkaSettings
from .clients import ride_out_broker_restarts

log = logging.getLogger(__name__)

Apply = Callable[[bytes | None, bytes | None], None]


class Record(NamedTuple):
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


def read(
    settings: KafkaSettings, topic: str, timeout_s: float = 30.0, group: str | None = None
) -> Iterator[Record]:
    """Every record of ``topic`` up to the end offsets it has now."""
    consumer = _consumer(settings, group)
    try:
        deadline = time.monotonic() + timeout_s
        open_ = _start(consumer, topic, timeout_s)
        while open_:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took more than {timeout_s} s")
            yield from _batch(consumer, open_, 0.5)
    finally:
        consumer.close()


class Table:
    """Calls ``apply(key, value)`` for every record of ``topic``, oldest first, on a
    daemon thread: up to the ends it had at start (then ``ready`` is set), then whatever
    comes after."""

    def __init__(self, settings: KafkaSettings, topic: str, apply: Apply, name: str) -> None:
        self.settings = settings
        self.topic = topic
        self.apply = apply
        self.ready = threading.Event()
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self, timeout: float | None = None) -> bool:
        """Start following; with ``timeout``, wait that long to be caught up (True if so)."""
        self._thread.start()
        return self.ready.wait(timeout) if timeout is not None else False

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def problem(self) -> str | None:
        """For /healthz: None when the table is current."""
        if self.error:
            return f"{self.topic}: {self.error}"
        if not self.ready.is_set():
            return f"still reading {self.topic}"
        return None

    def _run(self) -> None:
        consumer = _consumer(self.settings, None)
        try:
            open_ = _start(consumer, self.topic, 30.0)
            while not self._stop.is_set():
                if not open_:
                    self.ready.set()
                for record in _batch(consumer, open_, 0.2, follow=True):
                    self.apply(record.key, record.value)
        except Exception as exc:  # the health check reports it; the service keeps running
            self.error = str(exc)
            log.exception("table reader stopped", extra={"topic": self.topic})
        finally:
            consumer.close()


def _consumer(settings: KafkaSettings, group: str | None) -> Consumer:
    return Consumer(
        settings.confluent(
            **{
                # librdkafka wants a group id; nothing is ever committed under it.
                "group.id": group or f"wk-compacted-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                # A transactional writer's aborted records were never state.
                "isolation.level": "read_committed",
                "logger": logging.getLogger("librdkafka"),
                **ride_out_broker_restarts(),
            }
        )
    )


def _start(consumer: Consumer, topic: str, timeout_s: float) -> dict[int, int]:
    """Assign every partition from the beginning; return partition -> the end offset it
    has now, for those with anything to read."""
    every = partitions(consumer, topic, timeout_s)
    open_ = ends(consumer, topic, every, timeout_s)
    consumer.assign([TP(topic, p, OFFSET_BEGINNING) for p in every])
    return open_


def _batch(
    consumer: Consumer, open_: dict[int, int], timeout_s: float, follow: bool = False
) -> list[Record]:
    """The records that came within ``timeout_s`` (up to a thousand: a replay of a long
    history is bound by this call); partitions that reached their end leave ``open_``.

    Reading whole (``follow=False``), records past a partition's end at the start are
    left out and an error raises; following (a ``Table``), they are kept and an error is
    logged (librdkafka retries transient errors itself) without losing the batch."""
    found = []
    for message in consumer.consume(1000, timeout_s):
        error = message.error()
        partition = message.partition()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                # Also how a partition ends whose last offsets are transaction markers or
                # aborted records: no message ever carries the end offset then.
                open_.pop(partition, None)
            elif follow:
                log.warning("table read error", extra={"error": str(error)})
            else:
                raise KafkaException(error)
            continue
        offset = message.offset()
        if partition in open_:
            if offset + 1 >= open_[partition]:
                del open_[partition]
        elif not follow:
            continue  # written after the reading started, past the end it had then
        found.append(Record(message.key(), message.value(), partition, offset))
    return found


def partitions(consumer: Consumer, topic: str, timeout_s: float) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=timeout_s)
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"no topic {topic}"))
    return sorted(found.partitions)


def ends(consumer: Consumer, topic: str, partitions: list[int], timeout_s: float) -> dict[int, int]:
    """Partition -> its end offset now, for the partitions that hold anything (an empty
    one has no end to wait for)."""
    result = {}
    deadline = time.monotonic() + timeout_s
    for p in partitions:
        while True:
            try:
                low, high = consumer.get_watermark_offsets(TP(topic, p), timeout=timeout_s)
                break
            except KafkaException:
                # A topic created a moment ago may not have elected its leader yet
                # (NOT_LEADER_FOR_PARTITION, which librdkafka does not flag retriable here).
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        if high > low:
            result[p] = high
    return result
