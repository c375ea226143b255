"""The Faust runtime every service runs on.

A service builds a :class:`Service`, registers one handler per input topic, and calls
:meth:`Service.run`. The runtime owns what must be the same everywhere:

* the Faust app, configured from the environment (cluster, security, group, prefix);
* decoding with the codec, and the dead-letter topic for whatever does not decode,
  validate or process — processing continues with the next message;
* agent concurrency 1: faust-streaming can commit past an unfinished message when an
  agent's concurrency is above 1 (its issue #606), so services scale by partitions;
* offsets are committed only after the handler returned (or the dead letter was
  acknowledged by the broker): at-least-once;
* topics applied at start-up, /metrics and /healthz, JSON logs, a clean stop on SIGTERM.

Failure modes:

==================== ==================================================================
what happens         what the runtime does
==================== ==================================================================
bad bytes            dead-letter topic with headers (see ``dlq``), counted, next message
handler raises       logged with the event's position, dead-lettered, next message
crash / SIGKILL      nothing committed past unfinished work: the new process re-reads
                     from the last commit (duplicates possible, losses not)
rebalance            Faust commits what is done and hands partitions over; what comes
                     back to this process again is skipped by offset (counted in
                     ``wk_messages_redelivered_total``)
Kafka unreachable    at start-up: topic apply retries for ``WK_STARTUP_TIMEOUT_S`` then
                     exits 1; while running: aiokafka reconnects, rewinds to the last
                     commit, and the offsets already handled are skipped: exact counts
                     across a broker restart
SIGTERM              /healthz says stopping, the worker commits and leaves the group
==================== ==================================================================
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from .. import topics as topic_registry
from ..codec import Codec, EventError
from ..settings import ServiceSettings
from . import logs
from .deadletter import DeadLetters, Source
from .http import Health
from .metrics import CONSUMED, PROCESSED, REDELIVERED
from .startup import apply_topics_with_retry, start

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None] | None]


def broker_credentials(settings: ServiceSettings) -> Any:
    """Faust (aiokafka) wants credential objects where librdkafka wants strings."""
    kafka = settings.kafka
    context = kafka.ssl_context()
    if kafka.uses_sasl:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            mechanism=kafka.sasl_mechanism,
            ssl_context=context,
        )
    if kafka.uses_ssl:
        return faust.SSLCredentials(context=context or ssl.create_default_context())
    return None


def create_app(settings: ServiceSettings) -> faust.App:
    """A Faust app for one service, configured from ``settings``."""
    brokers = [
        f"kafka://{server.strip()}" for server in settings.kafka.bootstrap_servers.split(",")
    ]
    return faust.App(
        settings.group,
        broker=brokers,
        broker_credentials=broker_credentials(settings),
        # Tables recover from their changelog topics; no local store to lose or back up.
        store="memory://",
        # Our own /metrics and /healthz run on a thread (see http.py); no Faust web server.
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Replaced in Service.run() by what the cluster can hold (see topics.replication_factor).
        topic_replication_factor=1,
        topic_allow_declare=True,
        logging_config=logs.logging_config(settings.name, settings.log_level),
    )


class Service:
    """One watchkeeper service: a Faust app plus the shared plumbing around it."""

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

    async def produce(self, topic: str, schema: str, record: dict[str, Any], key: str) -> None:
        """Encode and publish, waiting for the broker's acknowledgement."""
        value = self.codec.encode(schema, record)
        future = await self.raw_topic(topic).send(key=key.encode(), value=value)
        await future

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
                result = handler(record)
                if inspect.isawaitable(result):
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
        self.app.conf.topic_replication_factor = topic_registry.replication_factor(
            self.settings.kafka
        )

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; return the process exit code."""
        http = start(self.settings, self.health, self.apply_topics, prefix=self.settings.prefix)
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
