"""The Faust engine: the same tasks as the batch engine, for light, timer-driven streams.

``TaskService(spec, settings, parts, codec)`` runs ``parts.tasks(p)`` — the
:class:`~watchkeeper.kit.task.Task` objects the batch engine runs — on faust-streaming: a
service changes engine by one word in its ``ServiceSpec`` (``engine="faust"``) or by
``WK_ENGINE=faust`` at start. The engine owns what must be the same everywhere:

* the Faust app, configured from the environment (cluster, security, group, prefix);
* one agent per input topic, decoding with the codec as the topic's type; whatever does
  not decode, validate or process goes to the dead-letter topic and processing continues
  with the next message;
* agent concurrency 1: faust-streaming can commit past an unfinished message when an
  agent's concurrency is above 1 (its issue #606), so services scale by partitions;
* task *p* for partition *p* of every input (Faust's assignor co-partitions topics of the
  same partition count), made on first sight and restored from ``spec.state_topic``
  before its first event; a timer calls ``tick`` every ``WK_TICK_INTERVAL_MS`` (500);
  after each event and tick the task is drained (``faust_tasks``);
* an input offset is committed only after its event was processed and what the task gave
  for it (outputs, then changelog records) or its dead letter was acknowledged by the
  broker: at-least-once. No transactions: that, and batches, is the batch engine's job;
* topics applied at start-up, then what runs beside the tasks; /metrics, /healthz and the
  service's routes; JSON logs; a clean stop on SIGTERM.

Failure modes:

==================== ==================================================================
what happens         what the engine does
==================== ==================================================================
bad bytes            dead-letter topic with headers (see ``dlq``), counted, next message
task raises          logged with the event's position, dead-lettered, next message
an output or         the broker refused it after the producer's retries: /healthz
changelog send fails failed, logged, exit 1 before the input offset is committed
restore fails,       (nothing read for the restore's bound, or the task rejects a
or a tick raises     record): /healthz failed, logged, exit 1
crash / SIGKILL      nothing committed past unfinished work: the new process restores
                     the changelog and re-reads from the last commit (duplicates
                     possible, losses not)
rebalance            Faust commits what is done and hands partitions over; the tasks of
                     partitions that left are dropped (restored again if they come
                     back); what comes back to this process again is skipped by offset
                     (counted in ``wk_messages_redelivered_total``)
Kafka unreachable    at start-up: topic apply retries for ``WK_STARTUP_TIMEOUT_S`` then
                     exits 1; while running: aiokafka reconnects, rewinds to the last
                     commit, and the offsets already handled are skipped: exact counts
                     across a broker restart
SIGTERM              /healthz says stopping, the worker commits and leaves the group
==================== ==================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

import faust

from .. import topic_admin
from ..codec import Codec, EventError
from ..kit.routes import Route
from ..kit.spec import Parts, ServiceSpec
from ..kit.task import Change, Output, Task
from ..settings import ServiceSettings, env_int
from . import changelog, clients, logs
from .batch import RESTORED  # one series for both engines
from .deadletter import DeadLetters, Source
from .faust_app import create_app
from .faust_tasks import Partitions
from .http import Health
from .metrics import CONSUMED, PROCESSED, REDELIVERED
from .startup import apply_topics_with_retry, start
from .watchdog import Watchdog, exit_for_restart

log = logging.getLogger(__name__)

# (partition, decoded record) -> None, or what to await before the offset may be committed
Handler = Callable[[int, dict[str, Any]], Awaitable[None] | None]


class Service:
    """A Faust app plus the plumbing every Faust service shares; :class:`TaskService`
    puts the tasks on it."""

    def __init__(self, settings: ServiceSettings, codec: Codec | None = None) -> None:
        self.settings = settings
        self.codec = codec or Codec()
        self.app = create_app(settings)
        self.health = Health(settings.name)
        self._dlq = self.raw_topic("dlq")
        self._dead_letters = DeadLetters(settings.name, settings.topic("dlq"), log)
        # The highest offset handled per partition by this process. When the broker
        # restarts or the group rebalances, the consumer rewinds to the last commit and
        # hands us again what we already handled; skipping it keeps counts exact across
        # those (a crash of this process still re-reads: at-least-once).
        self._handled: dict[tuple[str, int], int] = {}

    # -- wiring -----------------------------------------------------------------------

    def raw_topic(self, name: str) -> faust.TopicT:
        """A Faust topic under the prefix whose keys and values stay bytes."""
        return self.app.topic(
            self.settings.topic(name), key_serializer="raw", value_serializer="raw"
        )

    def consume(self, topic: str, schema: str, handler: Handler) -> None:
        """Decode every message of ``topic`` as ``schema`` and pass it to ``handler``."""
        channel = self.raw_topic(topic)

        async def agent(stream: faust.StreamT) -> None:
            await self._consume(stream, schema, handler)

        self.app.agent(channel, name=f"{self.settings.name}.{topic}", concurrency=1)(agent)

    async def _consume(self, stream: faust.StreamT, schema: str, handler: Handler) -> None:
        name = self.settings.name
        async for event in stream.events():
            message = event.message
            CONSUMED.labels(name, message.topic).inc()
            position = (message.topic, message.partition)
            if message.offset <= self._handled.get(position, -1):
                REDELIVERED.labels(name, message.topic).inc()
                continue
            self._handled[position] = message.offset
            try:
                record = self.codec.decode_as(schema, message.value)
            except EventError as exc:
                await self.dead_letter(message, exc)
                continue
            try:
                result = handler(message.partition, record)
                if result is not None:
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception(
                    "handler failed; message dead-lettered",
                    extra={
                        "topic": message.topic,
                        "partition": message.partition,
                        "offset": message.offset,
                    },
                )
                await self.dead_letter(message, exc)
                continue
            PROCESSED.labels(name, message.topic).inc()

    async def dead_letter(self, message: Any, exc: BaseException) -> None:
        """Publish the original message with the reason, and wait until the broker has it.

        Waiting matters: the offset of ``message`` is committed once we return, so the
        dead letter must be durable first or a crash here would lose the message.
        """
        source = Source(
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.value,
            [(k, v) for k, v in (message.headers or ())],
        )
        await self._dead_letters.write_async(source, exc, self._send_dead_letter)

    async def _send_dead_letter(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list
    ) -> None:
        # ``topic`` is the one ``self._dlq`` already sends to (a Faust topic object).
        future = await self._dlq.send(key=key, value=value, headers=headers)
        await future

    # -- running ----------------------------------------------------------------------

    def apply_topics(self) -> None:
        apply_topics_with_retry(self.settings)
        # Faust's own changelog topics get the same replication as ours.
        self.app.conf.topic_replication_factor = topic_admin.replication_factor(self.settings.kafka)

    def run(self, routes: Sequence[Route] = ()) -> int:
        """Run until SIGTERM or SIGINT; return the process exit code."""
        http = start(
            self.settings, self.health, self.apply_topics, routes, prefix=self.settings.prefix
        )
        if http is None:
            return 1
        worker = _Worker(self.app, self.health, self.settings)
        try:
            worker.execute_from_commandline()
        except SystemExit as exit_:
            return int(exit_.code or 0)
        finally:
            http.stop()
        return 0


class TaskService(Service):
    """Runs a spec's tasks (``parts.tasks(p)`` for input partition *p*) on Faust."""

    def __init__(
        self, spec: ServiceSpec, settings: ServiceSettings, parts: Parts, codec: Codec | None = None
    ) -> None:
        super().__init__(settings, codec)
        self.spec = spec
        self.parts = parts
        self.beside = list(parts.beside)
        for part in self.beside:
            self.health.add_check(part.problem)
        self.state_topic = settings.topic(spec.state_topic) if spec.state_topic else None
        self.watchdog = Watchdog()
        self._out_topics: dict[str, str] = {}
        self.partitions = Partitions(
            parts.tasks,
            self._send_outputs,
            self._send_changes if self.state_topic else None,
            self._restore if self.state_topic else None,
        )
        self._inputs = {settings.topic(t) for t in spec.inputs}
        for topic, schema in spec.input_schemas().items():
            self.consume(topic, schema, self._handler(topic))
        self.app.timer(env_int("WK_TICK_INTERVAL_MS", 500) / 1000.0, name=f"{settings.name}.tick")(
            self._tick
        )
        self.app.on_partitions_assigned.connect(self._on_assigned)

    def _handler(self, topic: str) -> Handler:
        handle = self.partitions.handle

        def handler(partition: int, record: dict[str, Any]) -> Awaitable[None] | None:
            return handle(partition, topic, record)

        return handler

    async def _tick(self) -> None:
        try:
            await self.partitions.tick(int(time.time() * 1000))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a task that cannot tick cannot be trusted to go on
            self._give_up("tick", exc)

    async def _on_assigned(self, sender: Any, assigned: Any, **_: Any) -> None:
        numbers = {tp.partition for tp in assigned if tp.topic in self._inputs}
        gone = self.partitions.keep_only(numbers)
        log.info("partitions assigned", extra={"partitions": sorted(numbers), "dropped": gone})

    # -- the broker side of Partitions --------------------------------------------------

    async def _send(self, records: list[tuple[str, bytes, bytes | None, int | None]]) -> None:
        """Produce and wait for every acknowledgement; a refusal ends the process before
        the input offset is committed (at-least-once: the restart reads it again)."""
        send = self.app.producer.send
        try:
            acks = [
                await send(topic, key, value, part, None, None)
                for topic, key, value, part in records
            ]
            # Shielded: at SIGTERM the producer still delivers what it was handed.
            await asyncio.shield(asyncio.gather(*acks))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._give_up("send", exc)

    async def _send_outputs(self, outputs: list[Output]) -> None:
        topics = self._out_topics
        records = []
        for out in outputs:
            topic = topics.get(out.topic)
            if topic is None:
                topic = topics[out.topic] = self.settings.topic(out.topic)
            records.append((topic, out.key, out.value, None))
        await self._send(records)

    async def _send_changes(self, partition: int, changes: list[Change]) -> None:
        assert self.state_topic is not None
        await self._send([(self.state_topic, key, value, partition) for key, value in changes])

    def _restore(self, partition: int, task: Task) -> int:
        """On a thread of its own (the event loop keeps the consumer's heartbeats going)."""
        assert self.state_topic is not None
        try:
            count = changelog.restore(
                clients.changelog_reader(self.settings),
                self.state_topic,
                partition,
                task.restore,
                self.watchdog,
                timeout_s=clients.call_timeout_s() * 3,
                bound_s=clients.call_bound_s(),
            )
        except Exception as exc:
            self._give_up("restore", exc)
        if count:
            RESTORED.labels(self.settings.name).inc(count)
            log.info("state restored", extra={"partition": partition, "records": count})
        return count

    def _give_up(self, what: str, exc: BaseException) -> NoReturn:
        """Exit at once: a normal stop would commit offsets whose work is not durable."""
        self.health.failed(f"{what} failed: {exc}")
        log.critical(
            f"{what} failed; exiting so that the supervisor restarts us",
            exc_info=exc,
            extra={"error": str(exc)[:300], "exit_code": 1},
        )
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(1)

    # -- running ------------------------------------------------------------------------

    def apply_topics(self) -> None:
        super().apply_topics()
        # What runs beside the tasks reads topics that exist now, before the first event.
        for part in self.beside:
            part.start()

    def run(self, routes: Sequence[Route] = ()) -> int:
        self.watchdog.start(exit_for_restart(self.health, self.settings.name))
        try:
            return super().run([*self.parts.routes, *routes])
        finally:
            for part in self.beside:
                try:
                    part.stop()
                except Exception:  # stopping the rest matters more than this one's error
                    log.exception("stopping a part failed", extra={"part": type(part).__name__})
            self.watchdog.stop()


class _Worker(faust.Worker):
    """Faust's worker, reporting its state to /healthz."""

    def __init__(self, app: faust.App, health: Health, settings: ServiceSettings) -> None:
        super().__init__(
            app,
            loglevel=settings.log_level,
            logging_config=logs.logging_config(settings.name, settings.log_level),
            quiet=True,
            redirect_stdouts=False,
            stdout=sys.stderr,
        )
        self._health = health

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        self._health.ready()
        logging.getLogger(__name__).info("ready")

    def _on_sigterm(self) -> None:
        self._health.stopping()
        logging.getLogger(__name__).info("SIGTERM: stopping")
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self._health.stopping()
        super()._on_sigint()
