"""The router's Kafka plumbing (confluent-kafka): the alert feed, and a producer whose
sends can be awaited until the broker acknowledges them (the state topics are read back
with ``watchkeeper.runtime.compacted``).

The router does not use a consumer group to share work: it runs as a single instance and
assigns itself every partition of ``alerts`` from the beginning, because its state (open
alerts, what each receiver was told) is rebuilt from the compacted topics at each start.
It still commits offsets under its group id, but only as a bookmark of which messages were
already handled: a bad message below the bookmark was dead-lettered by an earlier process
and is not dead-lettered again when the topic is replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as TP

from watchkeeper.runtime import compacted
from watchkeeper.runtime.clients import ride_out_broker_restarts
from watchkeeper.runtime.watchdog import Watchdog
from watchkeeper.settings import KafkaSettings

log = logging.getLogger(__name__)

BATCH = 500
GATHER_S = 0.02


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    replay: bool  # below the committed bookmark: handled by an earlier process


# Markers among the messages of a batch.
RESTORED = "restored"  # every partition has been read up to its end once
FAILED = "failed"  # the feed thread died (the error is logged)


class AlertFeed(threading.Thread):
    """Reads ``alerts`` on a thread of its own and hands batches to the event loop.

    librdkafka's poll blocks, so it cannot run on the loop; a bounded queue between the
    two lets a slow loop hold the reader back instead of buffering without limit.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        topic: str,
        group: str,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue,
        timeout_s: float = 30.0,
        watchdog: Watchdog | None = None,
        bound_s: float = 35.0,
    ) -> None:
        super().__init__(name="wk-alert-feed", daemon=True)
        self.topic = topic
        self._settings = settings
        self._group = group
        self._loop = loop
        self._queue = queue
        self._timeout_s = timeout_s
        self._halt = threading.Event()
        self._error: tuple[str, float] | None = None  # the last consumer error, and when
        self._done: dict[int, int] = {}  # partition -> next offset handled by the loop
        self._committed: dict[int, int] = {}
        # Every call this thread makes to Kafka is bounded: a stuck feed would leave the
        # router answering /healthz while routing nothing.
        self._watchdog = watchdog or Watchdog()
        self._bound_s = bound_s

    @property
    def error(self) -> str | None:
        """A consumer error from the last 30 s (the cluster away, the topic gone ...)."""
        if self._error is None or time.monotonic() - self._error[1] > 30.0:
            return None
        return self._error[0]

    def _on_error(self, error: KafkaError) -> None:
        self._error = (str(error), time.monotonic())
        log.warning("alert feed: %s", error, extra={"topic": self.topic})

    def handled(self, partition: int, offset: int) -> None:
        """The loop is through with ``offset`` (called from the loop's thread)."""
        self._done[partition] = offset + 1

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("alert feed failed")
            self._hand_over([FAILED])

    def _run(self) -> None:
        consumer = Consumer(
            self._settings.confluent(
                **{
                    "group.id": self._group,
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "auto.offset.reset": "earliest",
                    # slo publishes alerts in transactions: never route an aborted one.
                    "isolation.level": "read_committed",
                    # A new alert is fetched as soon as the broker has it; this only
                    # bounds how long an idle fetch is parked on the broker.
                    "fetch.wait.max.ms": 100,
                    # Client-level errors (all brokers down ...) come here, not as messages.
                    "error_cb": self._on_error,
                    "logger": logging.getLogger("librdkafka"),
                    **ride_out_broker_restarts(),
                }
            )
        )
        bounded = self._watchdog.call
        setup_bound = self._timeout_s + self._bound_s
        try:
            with bounded("alert feed: partitions", setup_bound):
                partitions = compacted.partitions(consumer, self.topic, self._timeout_s)
            with bounded("alert feed: committed", setup_bound):
                committed = _committed(consumer, self.topic, partitions, self._timeout_s)
            self._committed = {tp.partition: max(tp.offset, 0) for tp in committed}
            consumer.assign([TP(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            with bounded("alert feed: watermarks", setup_bound * len(partitions)):
                restoring = set(compacted.ends(consumer, self.topic, partitions, self._timeout_s))
            if not restoring:
                self._hand_over([RESTORED])
            last_commit = time.monotonic()
            while not self._halt.is_set():
                with bounded("alert feed: poll", self._bound_s):
                    first = consumer.poll(0.1)
                batch = [] if first is None else [first]
                # A burst (a rule firing for many series at once) reaches us over a few
                # fetches a millisecond apart: keep taking while more keeps coming within
                # GATHER_S, so that its alerts meet in their groups before the first flush
                # instead of half of them waiting a group_interval. A lone alert pays
                # GATHER_S once.
                while batch and len(batch) < BATCH:
                    with bounded("alert feed: consume", self._bound_s):
                        more = consumer.consume(BATCH - len(batch), GATHER_S)
                    if not more:
                        break
                    batch.extend(more)
                messages: list[Any] = []
                for raw in batch:
                    error = raw.error()
                    if error is None:
                        messages.append(self._message(raw))
                    elif error.code() == KafkaError._PARTITION_EOF:
                        if raw.partition() in restoring:
                            restoring.discard(raw.partition())
                            if not restoring:
                                messages.append(RESTORED)
                    else:
                        # librdkafka retries transient errors itself; we only report them.
                        self._on_error(error)
                if messages and not self._hand_over(messages):
                    break
                if time.monotonic() - last_commit > 1.0:
                    with bounded("alert feed: commit (async)", self._bound_s):
                        self._commit(consumer, asynchronous=True)
                    last_commit = time.monotonic()
            with bounded("alert feed: commit", self._bound_s):
                self._commit(consumer, asynchronous=False)
        finally:
            with bounded("alert feed: close", self._bound_s):
                consumer.close()

    def _message(self, raw: Any) -> Message:
        partition, offset = raw.partition(), raw.offset()
        return Message(
            raw.topic(),
            partition,
            offset,
            raw.key(),
            raw.value(),
            list(raw.headers() or ()),
            offset < self._committed.get(partition, 0),
        )

    def _hand_over(self, item: Any) -> bool:
        """Put ``item`` on the loop's queue, waiting while it is full; False if stopped."""
        future = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        while True:
            try:
                future.result(timeout=0.2)
                return True
            except TimeoutError:
                if self._halt.is_set() or self._loop.is_closed():
                    future.cancel()
                    return False

    def _commit(self, consumer: Consumer, asynchronous: bool) -> None:
        # Never move the bookmark backwards: while replaying from the beginning, the
        # loop handles offsets far below what an earlier process committed.
        ahead = [
            TP(self.topic, p, offset)
            for p, offset in list(self._done.items())
            if offset > self._committed.get(p, 0)
        ]
        if not ahead:
            return
        with contextlib.suppress(KafkaException):
            consumer.commit(offsets=ahead, asynchronous=asynchronous)
            for tp in ahead:
                self._committed[tp.partition] = tp.offset


class AckingProducer:
    """An idempotent producer whose sends return futures resolved by the broker's ack."""

    def __init__(
        self,
        settings: KafkaSettings,
        loop: asyncio.AbstractEventLoop,
        watchdog: Watchdog | None = None,
        bound_s: float = 35.0,
    ) -> None:
        self._loop = loop
        self._watchdog = watchdog or Watchdog()
        self._bound_s = bound_s
        self._producer = Producer(
            settings.confluent(
                **{
                    "enable.idempotence": True,
                    "acks": "all",
                    # Each write follows a delivery that already happened: send it now,
                    # the sooner it is durable, the smaller the duplicate window.
                    "linger.ms": 0,
                    "logger": logging.getLogger("librdkafka"),
                    # A write the broker has not taken within this time fails instead of
                    # holding its delivery slot for librdkafka's default five minutes.
                    "delivery.timeout.ms": 30000,
                    **ride_out_broker_restarts(),
                }
            )
        )
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="wk-producer", daemon=True)
        self._poller.start()

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self._loop.create_future()

        def acked(err: KafkaError | None, _msg: Any) -> None:
            self._loop.call_soon_threadsafe(_settle, future, err)

        with self._watchdog.call("router producer: local queue full", self._bound_s):
            while True:
                try:
                    self._producer.produce(
                        topic, value=value, key=key, headers=headers, on_delivery=acked
                    )
                    return future
                except BufferError:
                    # The local queue is full (the broker is slow or away): give it a moment.
                    time.sleep(0.01)

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush what is queued; return how many messages were left undelivered."""
        left = self._producer.flush(timeout_s)
        self._closed.set()
        self._poller.join(2.0)
        return left

    def _poll(self) -> None:
        while not self._closed.is_set():
            with self._watchdog.call("router producer: poll", self._bound_s):
                self._producer.poll(0.05)


def _settle(future: asyncio.Future[None], err: KafkaError | None) -> None:
    if future.done():
        return
    if err is None:
        future.set_result(None)
    else:
        future.set_exception(KafkaException(err))


def _committed(consumer: Consumer, topic: str, partitions: list[int], timeout_s: float) -> list:
    """The group's committed offsets, waiting while a fresh cluster elects a coordinator."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return consumer.committed([TP(topic, p) for p in partitions], timeout=timeout_s)
        except KafkaException as exc:
            error = exc.args[0]
            if not error.retriable() and error.code() not in _COORDINATOR_NOT_READY:
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


_COORDINATOR_NOT_READY = (
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError._TIMED_OUT,
)
