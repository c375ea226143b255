"""The batch engine: a confluent-kafka consumer loop with exactly-once state, for hot paths.

Faust handles one event at a time: on the same light stream the same task ran about 24
times faster here than on the Faust engine (``make bench BENCH=engines``, decision record
``docs/decisions/0001-engines.md``). Services on the prediction stream therefore run on this
engine:

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

Failure modes (docs/runtime.md has the whole table, with what each one costs):

=========================== ==========================================================
what happens                what the engine does
=========================== ==========================================================
bad bytes / bad event       dead letter (same transaction as the offsets), counted, next
task raises                 dead letter as processing_error, logged, next event
crash or SIGKILL            the open transaction is aborted (fenced by the next
                            instance); the restart restores state from the changelog and
                            re-reads from the committed offsets: exactly once
broker restart              librdkafka reconnects; a commit that fails retriably is made
                            again, one that must abort is aborted and its work redone
                            (state rebuilt from the changelog, offsets rewound)
a Kafka call overruns       the watchdog marks /healthz failed, logs the call and exits
its bound                   75: the supervisor restarts the process (librdkafka #5456,
                            #5511)
consumer or producer fatal  exit 1 naming the error (fenced by another instance with
                            the same id, or a consumer fenced out of its group)
rebalance                   the revoked partitions' work is committed first; new
                            partitions restore their state before their first event
no progress while lagging   /healthz says stalled (503) after ``WK_STALL_AFTER_S``
SIGTERM                     commit, leave the group, exit 0
=========================== ==========================================================
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from prometheus_client import Counter, Histogram

from ..codec import Codec, EventError
from ..kit.routes import Route
from ..kit.spec import Beside
from ..kit.task import Output, Task, key_text
from ..settings import ServiceSettings, env_float, env_int, env_str
from . import changelog, clients
from .deadletter import DeadLetters, Source
from .http import Health
from .metrics import CONSUMED, PROCESSED, forget_lag, set_lag
from .positions import Positions
from .startup import apply_topics_with_retry, start
from .transaction import Aborted, Transactions
from .watchdog import Progress, Watchdog, exit_for_restart

__all__ = ["BatchService", "Output", "Task", "key_text"]

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
        beside: Sequence[Beside] = (),
        routes: Sequence[Route] = (),
    ) -> None:
        self.settings = settings
        self.beside = list(beside)
        self.routes = list(routes)
        self.inputs = inputs
        self.task_factory = task_factory
        self.state_topic = settings.topic(state_topic) if state_topic else None
        self.codec = codec or Codec()
        self.clock = clock
        self.health = Health(settings.name)
        self._dead_letters = DeadLetters(settings.name, settings.topic("dlq"), log)
        self.batch_size = env_int("WK_BATCH_SIZE", 2000)
        self.commit_interval_s = env_int("WK_COMMIT_INTERVAL_MS", 500) / 1000.0
        self.poll_timeout_s = env_int("WK_POLL_TIMEOUT_MS", 50) / 1000.0
        # What we pass librdkafka as a timeout, and how much longer we let it overrun
        # before the watchdog gives up on the process.
        self.call_timeout_s = clients.call_timeout_s()
        self.bound_s = clients.call_bound_s()
        self.instance = env_str("WK_INSTANCE_ID") or socket.gethostname()
        self.tasks: dict[int, Task] = {}
        self.watchdog = Watchdog()
        self.progress = Progress(env_float("WK_STALL_AFTER_S", 60.0))
        self.health.add_check(self.progress.stalled, status="stalled")
        for part in self.beside:
            self.health.add_check(part.problem)
        self._schema_by_topic = {settings.topic(t): s for t, s in inputs.items()}
        self._logical = {settings.topic(t): t for t in inputs}
        self._running = True
        self._consumer: Consumer | None = None
        self._txn: Transactions | None = None
        self._last_commit = 0.0
        self._lag_checked = 0.0
        self._uncommitted = 0
        self._taken = Positions()

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
        numbers = sorted({p.partition for p in partitions})
        for number in numbers:
            task = self.tasks.pop(number, None)
            # A task may drop the per-partition series it exported (another instance
            # exports them now): ``revoked()`` is optional in the Task protocol.
            revoked = getattr(task, "revoked", None)
            if revoked is not None:
                revoked()
        self._taken.forget(numbers)
        forget_lag(self.settings.group, [(p.topic, p.partition) for p in partitions])
        log.info("partitions revoked", extra={"partitions": [p.partition for p in partitions]})

    def _restore(self, number: int) -> Task:
        task = self.task_factory(number)
        if self.state_topic is None:
            task.restored()
            return task
        count = changelog.restore(
            clients.changelog_reader(self.settings),
            self.state_topic,
            number,
            task.restore,
            self.watchdog,
            timeout_s=self.call_timeout_s * 3,
            bound_s=self.bound_s,
        )
        if count:
            RESTORED.labels(self.settings.name).inc(count)
            log.info("state restored", extra={"partition": number, "records": count})
        task.restored()
        return task

    def _rewind(self) -> None:
        """After an abort: rebuild every task from its changelog, seek to the commits."""
        consumer = self._consumer
        assert consumer is not None
        assignment = consumer.assignment()
        for number in list(self.tasks):
            self.tasks[number] = self._restore(number)
        self._taken.forget(self.tasks)
        with self.watchdog.call("committed", self.bound_s):
            committed = consumer.committed(assignment, timeout=self.call_timeout_s)
        for tp in committed:
            offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            consumer.seek(TopicPartition(tp.topic, tp.partition, offset))

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
            error = message.error()
            if error:
                if error.fatal():
                    # A consumer fenced out of its group (FENCED_INSTANCE_ID ...) stays
                    # dead: carrying on would consume nothing, for ever.
                    raise KafkaException(error)
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error", extra={"error": str(error)})
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
        assert self._txn is not None
        txn = self._txn
        source = Source.of(message)
        self._dead_letters.write(
            source,
            exc,
            lambda topic, value, key, headers: txn.produce(topic, value, key, headers=headers),
        )

    def _commit(self, force: bool = False) -> None:
        """Produce what the tasks accumulated and commit it with the offsets, atomically.

        Commits when forced, when a task has outputs waiting (alerts must not wait for the
        interval), or when the interval passed with events consumed since the last commit.
        """
        consumer, txn = self._consumer, self._txn
        assert consumer is not None and txn is not None
        now = time.monotonic()
        due = now - self._last_commit >= self.commit_interval_s and self._uncommitted
        if not (force or due or any(t.pending_output() for t in self.tasks.values())):
            return
        for number, task in self.tasks.items():
            outputs, changes = task.drain()
            for out in outputs:
                txn.produce(self.settings.topic(out.topic), out.value, out.key)
            if self.state_topic is not None:
                for key, value in changes:
                    txn.produce(self.state_topic, value, key, partition=number)
        # Not consumer.position(): that may be past events no task has seen (positions.py).
        positions = self._taken.offsets()
        start = time.perf_counter()
        try:
            txn.commit(positions, consumer.consumer_group_metadata())
        except Aborted:
            ABORTS.labels(self.settings.name).inc()
            self._rewind()
            return
        COMMIT_SECONDS.labels(self.settings.name).observe(time.perf_counter() - start)
        COMMITS.labels(self.settings.name).inc()
        self._last_commit = now
        self._uncommitted = 0

    def _watch_lag(self) -> None:
        """Tell :class:`Progress` how much waits, from what the consumer already knows (no
        request to the broker: this runs on every turn of the loop)."""
        now = time.monotonic()
        if now - self._lag_checked < 1.0:
            return
        self._lag_checked = now
        consumer = self._consumer
        assert consumer is not None
        lag = 0
        for tp in consumer.position(consumer.assignment()):
            if tp.offset < 0:
                continue
            try:
                _, high = consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            if high is not None and high >= 0:
                behind = max(high - tp.offset, 0)
                set_lag(self.settings.group, tp.topic, tp.partition, behind)
                lag += behind
        self.progress.waiting(lag)

    def _loop(self) -> None:
        while self._running:
            self._turn()

    def _turn(self) -> None:
        """Consume a batch, hand it to the tasks, note where they are, commit if due."""
        consumer = self._consumer
        assert consumer is not None
        watchdog = self.watchdog
        # consume() runs the rebalance callbacks, whose restores and commits are calls of
        # their own: this bound is for the fetch itself.
        consume_bound = self.poll_timeout_s + self.bound_s
        with watchdog.call("loop: processing a batch", 300.0):
            with watchdog.call("consume", consume_bound):
                messages = consumer.consume(self.batch_size, self.poll_timeout_s)
            if messages:
                self._uncommitted += len(messages)
                self._process(messages)
                self.progress.advanced(len(messages))
            # Also after an empty batch: it may have stepped over a transaction marker.
            self._taken.taken_in(consumer.position(consumer.assignment()))
            now_ms = int(self.clock() * 1000)
            for task in self.tasks.values():
                task.tick(now_ms)
            self._commit()
            self._watch_lag()

    def apply_topics(self) -> None:
        apply_topics_with_retry(self.settings)
        # What runs beside the tasks reads topics that exist now, before the first event.
        for part in self.beside:
            part.start()

    def _stop_beside(self) -> None:
        for part in self.beside:
            try:
                part.stop()
            except Exception:  # stopping the rest matters more than this one's error
                log.exception("stopping a part failed", extra={"part": type(part).__name__})

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; return the process exit code."""
        http = start(
            self.settings, self.health, self.apply_topics, self.routes, instance=self.instance
        )
        if http is None:
            self._stop_beside()
            return 1

        def stop(signum: int, _frame: Any) -> None:
            self.health.stopping()
            log.info("signal received: stopping", extra={"signal": signum})
            self._running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.watchdog.start(exit_for_restart(self.health, self.settings.name))
        self._consumer = Consumer(clients.engine_consumer(self.settings, self.instance))
        self._txn = Transactions(
            Producer(clients.transactional_producer(self.settings, self.instance)),
            self.watchdog,
            self.settings.name,
            call_timeout_s=self.call_timeout_s,
            grace_s=self.bound_s - self.call_timeout_s,
            give_up_after_s=clients.transaction_timeout_ms() / 1000.0 * 2,
        )
        code = 0
        try:
            self._txn.begin(init_timeout_s=60.0)
            self._consumer.subscribe(
                list(self._schema_by_topic), on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            self._last_commit = time.monotonic()
            self.health.ready()
            log.info("ready")
            self._loop()
            self._commit(force=True)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            log.error(
                "fatal Kafka error; exiting",
                extra={"error": str(error), "exit_code": 1},
            )
            self.health.failed(str(error))
            code = 1
        finally:
            try:
                with self.watchdog.call("consumer close", self.bound_s):
                    self._consumer.close()
            finally:
                self._txn.flush(10)
                http.stop()
                self._stop_beside()
                self.watchdog.stop()
        log.info("stopped", extra={"exit_code": code})
        return code
