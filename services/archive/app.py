"""archive, wired: the consumer loop that fills the cold tier exactly once, the timer that
compacts and applies retention, the write-failure state with its alert, ``/healthz``.

One thread does everything Kafka and file related, in this order per turn: consume a
batch (rebalance callbacks run inside it), buffer or dead-letter each record, flush the
partitions that are due (parts written, then their offsets committed), run maintenance
when its timer is due. A flush never runs inside a rebalance callback, so a revoke never
interrupts one: revoked partitions' buffers are simply dropped (their next owner reads
them again from the committed offset) rather than flushed on the rebalance's clock.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable

import pyarrow as pa
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from watchkeeper import topics
from watchkeeper.codec import Codec, EventError
from watchkeeper.kit import AlertEmitter, prometheus_count
from watchkeeper.runtime import clients, startup
from watchkeeper.runtime.deadletter import DeadLetters, Source
from watchkeeper.runtime.http import Health
from watchkeeper.runtime.metrics import set_lag
from watchkeeper.settings import env_str
from watchkeeper.tiering.columns import Columns, Coordinates
from watchkeeper.tiering.layout import COLD
from watchkeeper.tiering.store import Store

from . import metrics
from .buffer import Buffers
from .buffer import TopicPartition as Key
from .config import ArchiveConfig
from .failing import ALERT, Failing
from .flush import write_parts
from .rebalance import Rebalancing
from .upkeep import upkeep

log = logging.getLogger(__name__)


class Fatal(Exception):
    """Something the loop must not continue after (a dead letter the broker refused)."""


class Archiver(Rebalancing):
    """The loop, runnable in a thread (``run(stop)``) as well as by :func:`serve`."""

    def __init__(
        self,
        config: ArchiveConfig,
        store: Store | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        settings = config.service
        self.store = store or Store.open(config.root)
        self.clock_ms, self.monotonic = clock_ms, monotonic
        self.codec = Codec()
        self.schemas = {settings.topic(t): topics.spec(t).schema for t in config.topics}
        self.columns = {t: Columns.of(self.codec, s) for t, s in self.schemas.items()}
        self.buffers = Buffers(config.flush_records, config.flush_s)
        self.committed: dict[Key, int] = {}  # below this, the store holds the partition
        self.assigned: set[Key] = set()
        self.unrecovered: set[Key] = set()
        self.failing = Failing(config.retry_max_s)
        self.letters = DeadLetters(settings.name, settings.topic("dlq"), log)
        self.alerts = AlertEmitter(
            settings.name, self.codec.encode, prometheus_count(metrics.ALERTS)
        )
        self.alert_firing = False
        self.delivery_errors: list[str] = []
        self.letters_pending = 0  # dead letters sent, not yet confirmed by the broker
        self.next_maintenance = monotonic() + config.maintenance_s
        self.first_record_s: float | None = None  # for the benchmark
        self.last_commit_s: float | None = None
        self.last_turn_s = monotonic()
        instance = env_str("WK_INSTANCE_ID") or socket.gethostname()
        self.consumer = Consumer(clients.engine_consumer(settings, instance))
        self.producer = Producer(
            settings.kafka.confluent(
                **{"enable.idempotence": True, "acks": "all", "linger.ms": 5,
                   **clients.ride_out_broker_restarts()}
            )
        )  # fmt: skip
        metrics.WRITING.set(1)

    # -- records ---------------------------------------------------------------------------

    def _handle(self, message) -> None:
        error = message.error()
        if error is not None:
            if error.fatal():
                raise Fatal(f"consumer: {error}")
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error", extra={"error": str(error)})
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        now_s = self.monotonic()
        if self.first_record_s is None:
            self.first_record_s = now_s
        try:
            if message.value() is None:
                raise EventError("not_single_object", "the record has no value (a tombstone)")
            record = self.codec.decode_as(self.schemas[topic], message.value())
        except EventError as exc:
            self.letters.write(Source.of(message), exc, self._send_dead_letter)
            self.buffers.skip(topic, partition, offset, now_s)
            return
        _kind, timestamp = message.timestamp()
        if timestamp < 0:  # no timestamp (a very old producer): bucket by arrival
            timestamp = self.clock_ms()
        coordinates = Coordinates(topic, partition, offset, timestamp, message.key())
        self.buffers.add(coordinates, record, now_s)

    def _send_dead_letter(self, topic, value, key, headers) -> None:
        def delivered(error, _message) -> None:
            self.letters_pending -= 1
            if error is not None:
                self.delivery_errors.append(str(error))

        self.producer.produce(topic, value=value, key=key, headers=headers, on_delivery=delivered)
        self.letters_pending += 1

    # -- flushing --------------------------------------------------------------------------

    def flush(self, keys: list[Key]) -> bool:
        """Write the partitions' batches, then commit their offsets; False when the write
        failed (the batches are kept and the partitions paused)."""
        keys = [k for k in keys if k in self.assigned and k not in self.unrecovered]
        if not keys:
            return True
        # Committing now would step over a dead letter the broker does not have.
        if self.letters_pending:
            self.producer.flush(clients.call_timeout_s())
        if self.delivery_errors:  # refused after the producer's own retries: start over
            raise Fatal(f"dead letters not delivered: {self.delivery_errors[:3]}")
        if self.letters_pending:  # the broker is away: keep everything, try next turn
            log.info("dead letters not confirmed yet", extra={"pending": self.letters_pending})
            return True
        batches = [self.buffers.take(k) for k in keys]
        written = []
        try:
            for batch in batches:
                logical = self.config.logical(batch.topic)
                columns = self.columns[batch.topic]
                parts = write_parts(self.store, logical, columns, batch, self.config.cold_level)
                written.extend(parts)
        except Exception as exc:  # full, read-only, gone, or a store that refuses
            for batch in batches:
                self.buffers.restore(batch, self.monotonic())
            self._discard(written)
            self._failed("flush", exc)
            return False
        offsets = [TopicPartition(b.topic, b.partition, b.next_offset) for b in batches]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # The parts stay: a later commit of these partitions covers them, and if they
            # moved meanwhile, the next owner's recovery deletes them before it reads.
            if exc.args and exc.args[0].fatal():
                raise Fatal(f"commit: {exc}") from exc
            metrics.COMMIT_FAILURES.inc()
            log.warning("commit refused after a flush", extra={"error": str(exc)})
            return True
        self.last_commit_s = self.monotonic()
        for batch in batches:
            self.committed[(batch.topic, batch.partition)] = batch.next_offset
            metrics.EVENTS.labels(self.config.logical(batch.topic)).inc(batch.count)
        for part in written:
            metrics.BYTES.labels(COLD).inc(part.bytes)
            metrics.PARTS.labels(COLD).inc()
        metrics.FLUSHES.inc(len(batches))
        metrics.BUFFERED.set(len(self.buffers))
        self._succeeded()
        return True

    def _discard(self, written) -> None:
        """The parts a failed flush did write: gone, so that the retry (which may hold more
        records per bucket, hence other names) cannot leave a record in two parts. If the
        store refuses this too, recovery at the next assignment deletes them."""
        for part in written:
            with contextlib.suppress(Exception):
                self.store.delete(part.path)

    def flush_all(self) -> bool:
        return self.flush(self.buffers.partitions())

    # -- failing and recovering ------------------------------------------------------------

    def _failed(self, step: str, exc: BaseException, pause: bool = True) -> None:
        metrics.WRITE_FAILURES.labels(step).inc()
        metrics.WRITING.set(0)
        error = f"{type(exc).__name__}: {exc}"
        first = self.failing.failed(error, self.clock_ms(), self.monotonic())
        if first and pause:
            self._pause()
        delay = round(self.failing.delay_s, 2)
        log.warning("write failed", extra={"step": step, "error": error[:500], "retry_in_s": delay})

    def _pause(self) -> None:
        tps = [TopicPartition(t, p) for t, p in sorted(self.assigned)]
        if tps:
            self.consumer.pause(tps)

    def _succeeded(self) -> None:
        if self.failing.since_ms is None:
            return
        started = self.failing.since_ms
        if self.alert_firing:  # before clearing: the record names the streak's error
            self._alert("resolved")
        self.failing.cleared()
        metrics.WRITING.set(1)
        resumable = [TopicPartition(t, p) for t, p in sorted(self.assigned - self.unrecovered)]
        if resumable:
            self.consumer.resume(resumable)
        log.info("writes work again", extra={"failing_for_s": (self.clock_ms() - started) / 1000})

    def retry(self) -> None:
        """Retry what failed: recovery of partitions not yet recovered, then every buffered
        partition, or (nothing buffered) a probe file."""
        for key in sorted(self.unrecovered):
            tp = TopicPartition(*key)
            try:
                committed = self._committed([TopicPartition(*key)])[0].offset
                self._recover(key, committed if committed >= 0 else None, tp)
            except Exception as exc:  # the store (or the coordinator) still refuses
                self._failed("recover", exc)
                return
            self.unrecovered.discard(key)
            if tp.offset >= 0:
                self.consumer.seek(tp)
        if len(self.buffers):
            self.flush_all()
            return
        probe = f"{COLD}/.probe-{uuid.uuid4().hex[:8]}.parquet"
        try:
            self.store.write(probe, pa.table({"probe": [1]}), 1)
            self.store.delete(probe)
        except Exception as exc:
            self._failed("flush", exc)
            return
        self._succeeded()

    def _check_alert(self) -> None:
        since = self.failing.since_ms
        if since is None or self.alert_firing:
            return
        if self.clock_ms() - since >= self.config.alert_after_s * 1000:
            self._alert("firing")

    def _alert(self, status: str) -> None:
        settings = self.config.service
        out = self.failing.alert(
            self.alerts, status, {"service": settings.name, "group": settings.group},
            self.config.alert_after_s, self.clock_ms(),
        )  # fmt: skip
        self.producer.produce(settings.topic(out.topic), key=out.key, value=out.value)
        self.producer.poll(0)
        self.alert_firing = status == "firing"
        log.warning("alert", extra={"alertname": ALERT, "status": status})

    def problem(self) -> str | None:
        if self.failing.since_ms is None:
            return None
        age = (self.clock_ms() - self.failing.since_ms) / 1000
        return f"writes to the tiers failing for {age:.0f} s: {self.failing.error}"

    # -- maintenance -----------------------------------------------------------------------

    def maintain(self) -> None:
        """Compaction and retention of every partition this instance owns, and its lag."""
        owned: dict[str, dict[int, int]] = {}
        for topic, partition in sorted(self.assigned - self.unrecovered):
            below = self.committed.get((topic, partition), 0)
            owned.setdefault(self.config.logical(topic), {})[partition] = below
        upkeep(self.store, self.config.policy, owned, self.clock_ms(), self.config.archive_level)
        for logical, partitions in owned.items():
            for partition, below in partitions.items():
                tp = TopicPartition(self.config.service.topic(logical), partition)
                try:
                    _low, high = self.consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                except KafkaException:  # a gauge, not a duty: the next round asks again
                    continue
                metrics.LAG.labels(logical, str(partition)).set(max(0, high - below))
                set_lag(self.config.service.group, tp.topic, partition, max(0, high - below))

    # -- the loop --------------------------------------------------------------------------

    def subscribe(self) -> None:
        self.consumer.subscribe(
            sorted(self.schemas), on_assign=self._assigned, on_revoke=self._revoked,
            on_lost=self._revoked,
        )  # fmt: skip

    def stalled(self) -> str | None:
        """A turn that has not ended for long: a write hanging on a dead mount, say."""
        age = self.monotonic() - self.last_turn_s
        limit = 2 * clients.call_bound_s() + self.config.flush_s
        return f"no turn of the loop ended for {age:.0f} s" if age > limit else None

    def turn(self) -> None:
        """One turn of the loop."""
        self.last_turn_s = self.monotonic()
        for message in self.consumer.consume(self.config.batch, timeout=0.2):
            self._handle(message)
        now = self.monotonic()
        if self.failing.since_ms is not None:
            if now >= self.failing.retry_at_s:
                self.retry()
            self._check_alert()
        else:
            due = self.buffers.due(now)
            if due:
                self.flush(due)
        metrics.BUFFERED.set(len(self.buffers))
        if self.failing.since_ms is None and now >= self.next_maintenance:
            self.maintain()
            self.next_maintenance = self.monotonic() + self.config.maintenance_s
        self.producer.poll(0)

    def run(self, stop: threading.Event) -> None:
        self.subscribe()
        while not stop.is_set():
            self.turn()
        if self.failing.since_ms is None:
            self.flush_all()  # a clean stop leaves nothing to read again

    def close(self) -> None:
        self.producer.flush(10)
        self.consumer.close()


def serve(config: ArchiveConfig) -> int:
    settings = config.service
    health = Health(settings.name)
    http = startup.start(
        settings, health, lambda: startup.apply_topics_with_retry(settings), root=config.root
    )
    if http is None:
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    archiver = Archiver(config)
    health.add_check(archiver.problem)
    health.add_check(archiver.stalled, status="stalled")
    health.ready()
    log.info("archiving", extra={"topics": list(config.topics), "root": config.root})
    try:
        archiver.run(stop)
    except Fatal as exc:
        health.failed(str(exc))
        log.critical("stopping", extra={"error": str(exc)})
        return 1
    finally:
        health.stopping()
        archiver.close()
        http.stop()
    return 0
