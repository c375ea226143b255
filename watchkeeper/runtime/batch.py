"""The batch engine: a confluent-kafka consumer loop with exactly-once state, for hot paths.

Faust handles one event at a time; on this project's benchmark it processed about 5,000
events/s where a batch consumer that only decodes reaches about 39,000 (``make bench``).
Services on the prediction stream therefore run on this engine:

* ``consume()`` in batches, decode with the codec, hand each event to the **task** that owns
  its input partition (inputs are co-partitioned by model, so task *p* sees partition *p* of
  every input topic);
* a task's outputs (window aggregates, alerts) and its **state changes** (a changelog on a
  compacted topic, partition *p* for task *p*) are produced in a Kafka **transaction**
  together with the input offsets: after a crash, a restarted task restores its state from
  the changelog and resumes exactly at the committed offsets, so nothing is lost or counted
  twice, and readers with ``isolation.level=read_committed`` never see outputs of work that
  was rolled back;
* bad input goes to the dead-letter topic inside the same transaction.

Failure modes:

======================= ===============================================================
what happens            what the engine does
======================= ===============================================================
bad bytes / bad event   dead letter (same transaction as the offsets), counted, next one
task raises             dead letter as processing_error, logged, next event
crash or SIGKILL        the open transaction is aborted (fenced by the next instance);
                        the restart restores state from the changelog and re-reads from
                        the committed offsets: exactly once for state and outputs
rebalance               the revoked partitions' work is committed first; new partitions
                        restore their state before their first event
commit fails (abortable) abort, rebuild every task from its changelog, seek back to the
                        committed offsets, carry on
fenced / fatal error    exit 1: another instance with the same id took over
SIGTERM                 commit, leave the group, exit 0
======================= ===============================================================
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from prometheus_client import Counter, Histogram

from ..codec import Codec, EventError
from ..settings import env_int, env_str
from .dlq import dead_letter_headers, error_kind
from .http import Health
from .metrics import CONSUMED, DEAD_LETTERS, PROCESSED
from .settings import ServiceSettings
from .startup import apply_topics_with_retry, start

log = logging.getLogger(__name__)

COMMITS = Counter("wk_engine_commits_total", "Transactions committed.", ["service"])
ABORTS = Counter("wk_engine_aborts_total", "Transactions aborted and rolled back.", ["service"])
COMMIT_SECONDS = Histogram(
    "wk_engine_commit_seconds",
    "Time to commit one transaction (outputs, state, offsets).",
    ["service"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)
RESTORED = Counter(
    "wk_engine_state_records_restored_total", "Changelog records read at restore.", ["service"]
)


@dataclass(frozen=True)
class Output:
    """A record for an output topic (logical name, without prefix)."""

    topic: str
    key: bytes
    value: bytes | None


def key_text(key: tuple[Any, ...]) -> str:
    """A tuple key as compact JSON, for the keys of a task's changelog records (a restore
    reads it back with ``json.loads``).

    >>> key_text(("fraud", "3", None))
    '["fraud","3",null]'
    """
    return json.dumps(list(key), separators=(",", ":"))


class Task(Protocol):
    """The domain side of one input partition; plain Python, no Kafka."""

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record (``None`` deletes the key)."""

    def process(self, topic: str, record: dict[str, Any]) -> None:
        """Handle one decoded event of ``topic`` (logical name)."""

    def tick(self, now_ms: int) -> None:
        """Wall-clock time passed: close what is due."""

    def pending_output(self) -> bool:
        """True when outputs wait: the engine then commits without waiting for its interval."""

    def drain(self) -> tuple[list[Output], list[tuple[bytes, bytes | None]]]:
        """Outputs and changelog records accumulated since the last drain."""


class BatchService:
    """Runs ``task_factory(partition)`` tasks over co-partitioned input topics.

    ``inputs`` maps logical input topics to the Avro type they carry.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        inputs: dict[str, str],
        task_factory: Callable[[int], Task],
        state_topic: str | None = None,
        codec: Codec | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.inputs = inputs
        self.task_factory = task_factory
        self.state_topic = settings.topic(state_topic) if state_topic else None
        self.codec = codec or Codec()
        self.clock = clock
        self.health = Health(settings.name)
        self.batch_size = env_int("WK_BATCH_SIZE", 2000)
        self.commit_interval_s = env_int("WK_COMMIT_INTERVAL_MS", 500) / 1000.0
        self.poll_timeout_s = env_int("WK_POLL_TIMEOUT_MS", 50) / 1000.0
        self.instance = env_str("WK_INSTANCE_ID") or socket.gethostname()
        self.tasks: dict[int, Task] = {}
        self._schema_by_topic = {settings.topic(t): s for t, s in inputs.items()}
        self._logical = {settings.topic(t): t for t in inputs}
        self._running = True
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._last_commit = 0.0
        self._uncommitted = 0

    # -- clients ----------------------------------------------------------------------

    def _clients(self) -> tuple[Consumer, Producer]:
        kafka = self.settings.kafka
        consumer = Consumer(
            kafka.confluent(
                **{
                    "group.id": self.settings.group,
                    "client.id": f"{self.settings.name}-{self.instance}",
                    # Static membership: a restarted instance takes its partitions back at
                    # once instead of waiting for the crashed one's session to time out.
                    "group.instance.id": f"{self.settings.name}-{self.instance}",
                    "session.timeout.ms": env_int("WK_SESSION_TIMEOUT_MS", 15_000),
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "auto.offset.reset": "earliest",
                    # Outputs of other transactional services are read only once committed.
                    "isolation.level": "read_committed",
                    # Range assigns partition p of every input to the same member: co-partitioning.
                    "partition.assignment.strategy": "range",
                    "fetch.wait.max.ms": 50,
                    "logger": logging.getLogger("watchkeeper.runtime.librdkafka"),
                }
            )
        )
        producer = Producer(
            kafka.confluent(
                **{
                    # Stable per instance: a restarted instance fences its own zombie.
                    "transactional.id": f"{self.settings.group}.{self.instance}",
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 5,
                    "compression.type": "lz4",
                    "logger": logging.getLogger("watchkeeper.runtime.librdkafka"),
                }
            )
        )
        return consumer, producer

    # -- assignment and state ---------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = sorted({p.partition for p in partitions})
        for number in numbers:
            if number not in self.tasks:
                self.tasks[number] = self._restore(number)
        log.info("partitions assigned", extra={"partitions": numbers})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Finish and commit the work of the partitions we are about to lose.
        self._commit(force=True)
        for number in sorted({p.partition for p in partitions}):
            self.tasks.pop(number, None)
        log.info("partitions revoked", extra={"partitions": [p.partition for p in partitions]})

    def _restore(self, number: int) -> Task:
        task = self.task_factory(number)
        if self.state_topic is None:
            return task
        reader = Consumer(
            self.settings.kafka.confluent(
                **{
                    "group.id": f"{self.settings.group}.restore",
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                    "enable.partition.eof": True,
                }
            )
        )
        try:
            low, high = reader.get_watermark_offsets(
                TopicPartition(self.state_topic, number), timeout=10
            )
            if high <= low:
                return task
            reader.assign([TopicPartition(self.state_topic, number, OFFSET_BEGINNING)])
            count = 0
            while True:
                message = reader.poll(1.0)
                if message is None:
                    continue
                if message.error():
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        break
                    raise KafkaException(message.error())
                task.restore(message.key(), message.value())
                count += 1
            RESTORED.labels(self.settings.name).inc(count)
            log.info("state restored", extra={"partition": number, "records": count})
        finally:
            reader.close()
        return task

    def _rewind(self) -> None:
        """After an abort: rebuild every task from its changelog, seek to the commits."""
        assert self._consumer is not None
        assignment = self._consumer.assignment()
        for number in list(self.tasks):
            self.tasks[number] = self._restore(number)
        committed = self._consumer.committed(assignment, timeout=10)
        for tp in committed:
            offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            self._consumer.seek(TopicPartition(tp.topic, tp.partition, offset))

    # -- the loop ---------------------------------------------------------------------

    def _process(self, messages: Iterable[Any]) -> None:
        name = self.settings.name
        decode = self.codec.decode_as
        schemas = self._schema_by_topic
        logical = self._logical
        tasks = self.tasks
        counts: dict[str, int] = {}
        processed: dict[str, int] = {}
        for message in messages:
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error", extra={"error": str(message.error())})
                continue
            topic = message.topic()
            counts[topic] = counts.get(topic, 0) + 1
            try:
                record = decode(schemas[topic], message.value())
            except EventError as exc:
                self._dead_letter(message, exc)
                continue
            try:
                tasks[message.partition()].process(logical[topic], record)
            except Exception as exc:  # one poison event must not stop the stream
                log.exception(
                    "task failed; event dead-lettered",
                    extra={
                        "topic": topic,
                        "partition": message.partition(),
                        "offset": message.offset(),
                    },
                )
                self._dead_letter(message, exc)
                continue
            processed[topic] = processed.get(topic, 0) + 1
        for topic, n in counts.items():
            CONSUMED.labels(name, topic).inc(n)
        for topic, n in processed.items():
            PROCESSED.labels(name, topic).inc(n)

    def _dead_letter(self, message: Any, exc: BaseException) -> None:
        kind = error_kind(exc)
        headers = dead_letter_headers(
            self.settings.name,
            message.topic(),
            message.partition(),
            message.offset(),
            exc,
            kind,
            original=message.headers(),
        )
        assert self._producer is not None
        self._producer.produce(
            self.settings.topic("dlq"), message.value(), message.key(), headers=headers
        )
        DEAD_LETTERS.labels(self.settings.name, message.topic(), kind).inc()
        log.warning(
            "dead letter",
            extra={
                "topic": message.topic(),
                "partition": message.partition(),
                "offset": message.offset(),
                "kind": kind,
                "error": str(exc)[:300],
            },
        )

    def _commit(self, force: bool = False) -> None:
        """Produce what the tasks accumulated and commit it with the offsets, atomically.

        Commits when forced, when a task has outputs waiting (alerts must not wait for the
        interval), or when the interval passed with events consumed since the last commit.
        """
        consumer, producer = self._consumer, self._producer
        assert consumer is not None and producer is not None
        now = time.monotonic()
        due = now - self._last_commit >= self.commit_interval_s and self._uncommitted
        if not (force or due or any(t.pending_output() for t in self.tasks.values())):
            return
        for number, task in self.tasks.items():
            outputs, changes = task.drain()
            for out in outputs:
                producer.produce(self.settings.topic(out.topic), out.value, out.key)
            if self.state_topic is not None:
                for key, value in changes:
                    producer.produce(self.state_topic, value, key, partition=number)
        positions = [
            tp for tp in consumer.position(consumer.assignment()) if tp.offset != OFFSET_INVALID
        ]
        start = time.perf_counter()
        try:
            if positions:
                producer.send_offsets_to_transaction(
                    positions, consumer.consumer_group_metadata(), 30
                )
            producer.commit_transaction(30)
        except KafkaException as exc:
            error = exc.args[0]
            if error.txn_requires_abort():
                log.warning("transaction aborted; rolling back", extra={"error": str(error)})
                producer.abort_transaction(30)
                ABORTS.labels(self.settings.name).inc()
                producer.begin_transaction()
                self._rewind()
                return
            raise
        COMMIT_SECONDS.labels(self.settings.name).observe(time.perf_counter() - start)
        COMMITS.labels(self.settings.name).inc()
        producer.begin_transaction()
        self._last_commit = now
        self._uncommitted = 0

    def _loop(self) -> None:
        consumer, producer = self._consumer, self._producer
        assert consumer is not None and producer is not None
        clock = self.clock
        while self._running:
            messages = consumer.consume(self.batch_size, self.poll_timeout_s)
            if messages:
                self._uncommitted += len(messages)
                self._process(messages)
            now_ms = int(clock() * 1000)
            for task in self.tasks.values():
                task.tick(now_ms)
            self._commit()

    def apply_topics(self) -> None:
        apply_topics_with_retry(self.settings)

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; return the process exit code."""
        http = start(self.settings, self.health, self.apply_topics, instance=self.instance)
        if http is None:
            return 1

        def stop(signum: int, _frame: Any) -> None:
            self.health.stopping()
            log.info("signal received: stopping", extra={"signal": signum})
            self._running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self._consumer, self._producer = self._clients()
        code = 0
        try:
            self._producer.init_transactions(60)
            self._producer.begin_transaction()
            self._consumer.subscribe(
                list(self._schema_by_topic), on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            self._last_commit = time.monotonic()
            self.health.ready()
            log.info("ready")
            self._loop()
            self._commit(force=True)
        except KafkaException as exc:
            log.exception("fatal Kafka error", extra={"error": str(exc)})
            self.health.failed(str(exc))
            code = 1
        finally:
            try:
                self._consumer.close()
            finally:
                self._producer.flush(10)
                http.stop()
        log.info("stopped", extra={"exit_code": code})
        return code
