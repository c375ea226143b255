"""router wiring: alerts in from Kafka, notifications out, state on compacted topics, the
HTTP API beside. The decisions are the engine's (``engine.Engine``); this module reads and
writes Kafka, serves HTTP, and runs the loop.

Start-up order matters for "no loss, no repeat":

1. the routing file and settings (bad ones exit 2 before touching anything);
2. topics applied, then the state topics read to their end: the notification log (what
   each receiver was told), silences, escalations (the stage each reached), incidents;
3. the alerts topic read from the beginning (compacted: the latest state of every alert,
   plus whatever compaction has not merged yet, which flap damping uses) into the groups;
   no notification goes out while this runs;
4. then live: escalations whose alerts resolved meanwhile end, ``/healthz`` turns ready,
   the API opens, timers run, and each group's first flush compares its alerts with the
   log, so only what was not yet delivered is sent; an escalation stage that fell due
   while the router was down runs now, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

from aiohttp import web
from confluent_kafka import KafkaException

from watchkeeper.codec import Codec, EventError
from watchkeeper.runtime import Health, ServiceHTTP, compacted
from watchkeeper.runtime import logs as runtime_logs
from watchkeeper.runtime.clients import call_bound_s
from watchkeeper.runtime.deadletter import DeadLetters, Source
from watchkeeper.runtime.dlq import error_kind
from watchkeeper.runtime.metrics import CONSUMED, PROCESSED
from watchkeeper.runtime.startup import apply_topics_with_retry
from watchkeeper.runtime.watchdog import Watchdog, exit_for_restart

from . import metrics
from .alert import Alert
from .api import Api
from .config import NAME, RouterConfig
from .engine import STATE_TOPICS, Engine
from .kafka_io import FAILED, RESTORED, AckingProducer, AlertFeed, Message
from .routing_file import RoutingConfig

log = logging.getLogger("services.router")


class Router:
    def __init__(
        self,
        config: RouterConfig,
        routing: RoutingConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.routing = routing
        self.settings = config.service
        self.clock = clock
        self.health = Health(NAME)
        self.codec = Codec()
        self.engine: Engine | None = None
        self.api_port: int | None = None
        self.http_port: int | None = None
        self._stop = asyncio.Event()
        self._queue: asyncio.Queue[list] = asyncio.Queue(maxsize=16)
        self._producer: AckingProducer | None = None
        self._feed: AlertFeed | None = None
        self._api: web.AppRunner | None = None
        self._dead_letters = DeadLetters(NAME, self.settings.topic("dlq"), log)

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError, ValueError):  # not the main thread: no signals
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop, sig)
        http = ServiceHTTP(self.health, self.settings.http_host, self.settings.http_port).start()
        self.http_port = http.port
        log.info(
            "starting",
            extra={
                "prefix": self.settings.prefix,
                "bootstrap": self.settings.kafka.bootstrap_servers,
                "http_port": http.port,
                "config": self.routing.path,
            },
        )
        try:
            return await self._serve(loop)
        finally:
            http.stop()

    def stop(self, sig: signal.Signals | None = None) -> None:
        log.info("%s: stopping", sig.name if sig else "stop")
        self.health.stopping()
        self._stop.set()
        self.wake()

    def wake(self) -> None:
        """Make the loop look at its timers again (the clock moved, state changed)."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait([])

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> int:
        started = time.monotonic()
        engine = self.engine = Engine(
            self.routing,
            self._persist,
            self._publish_alert,
            clock=self.clock,
            policy=self.config.retry,
            external_url=self.config.external_url,
            max_in_flight=self.config.max_in_flight,
            ack_links=self.config.ack_links,
            silence_retention_s=self.config.silence_retention_s,
        )
        try:
            await loop.run_in_executor(None, self._apply_topics)
            counts = await loop.run_in_executor(None, self._restore_state, engine)
        except (KafkaException, TimeoutError) as exc:
            await engine.notifier.close(0)
            if self._stop.is_set():
                return 0  # told to stop while still waiting for the cluster
            self.health.failed(f"cannot reach Kafka: {exc}")
            log.error("cannot reach Kafka; giving up", extra={"error": repr(exc)})
            return 1
        log.info("state restored", extra=counts)
        if self._stop.is_set():
            await engine.notifier.close(0)
            return 0
        # A Kafka call that never returns ends the router (exit 75) for its supervisor to
        # restart: the notification log makes the restart resend only what was not logged.
        watchdog = Watchdog().start(exit_for_restart(self.health, NAME))
        bound = call_bound_s()
        self._producer = AckingProducer(self.settings.kafka, loop, watchdog, bound)
        self._feed = AlertFeed(
            self.settings.kafka,
            self.settings.topic("alerts"),
            self.settings.group,
            loop,
            self._queue,
            timeout_s=self.config.startup_timeout_s,
            watchdog=watchdog,
            bound_s=bound,
        )
        self._feed.start()
        self.health.add_check(self._problem)
        code = 0
        try:
            code = await self._process(engine, started)
        finally:
            self.health.stopping()
            if self._api is not None:
                await self._api.cleanup()
            self._feed.stop()
            await loop.run_in_executor(None, self._feed.join, 10.0)
            abandoned = await engine.notifier.close(self.config.shutdown_timeout_s)
            await engine.drain(5.0)
            unacked = await loop.run_in_executor(None, self._producer.close, 10.0)
            watchdog.stop()
            log.info("stopped", extra={"abandoned_sends": abandoned, "unacked_writes": unacked})
        return code

    def _problem(self) -> str | None:
        """For /healthz: what keeps the router from doing its job right now."""
        if self._feed is not None and not self._feed.is_alive() and not self._stop.is_set():
            return "the alert feed stopped"
        if self._feed is not None and self._feed.error:
            return f"alerts topic: {self._feed.error}"
        if self.engine is not None and self.engine.notifier.log_write_error:
            return f"notification log writes failing: {self.engine.notifier.log_write_error}"
        return None

    def _apply_topics(self) -> None:
        apply_topics_with_retry(self.settings, should_stop=self._stop.is_set)

    def _restore_state(self, engine: Engine) -> dict[str, int]:
        counts = {}
        for topic in STATE_TOPICS:
            records = compacted.read(
                self.settings.kafka,
                self.settings.topic(topic),
                self.config.startup_timeout_s,
                group=f"{self.settings.group}.restore",
            )
            count = 0
            for record in records:
                count += 1
                try:
                    engine.restore(topic, record.key, record.value)
                except ValueError as exc:
                    # Our own state, written by an incompatible version or damaged: the
                    # worst outcome of skipping one record is one repeated notification.
                    log.warning("state record skipped", extra={"topic": topic, "error": str(exc)})
            counts[topic.replace("-", "_") + "_records"] = count
        metrics.NFLOG_ENTRIES.set(len(engine.nflog))
        return counts

    async def _start_api(self, engine: Engine) -> None:
        api = Api(
            engine,
            self.config.api_tokens,
            self.config.ack_links,
            self._send,
            self._dead_letter_bytes,
            self.health.report,
            self.config.api_max_body_bytes,
            self.settings.topic,
        )
        # No access log: request lines and headers never reach a log.
        self._api = web.AppRunner(api.app(), access_log=None, handle_signals=False)
        await self._api.setup()
        site = web.TCPSite(self._api, self.config.api_host, self.config.api_port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.api_port = sockets[0].getsockname()[1] if sockets else self.config.api_port
        if not len(self.config.api_tokens):
            log.warning("no API tokens configured (WK_ROUTER_API_TOKENS): the API refuses all")
        log.info("API listening", extra={"api_port": self.api_port})

    # -- the loop -------------------------------------------------------------------------

    async def _process(self, engine: Engine, started: float) -> int:
        live = False
        restored = 0
        while not self._stop.is_set():
            timeout = None
            if live and (deadline := engine.next_deadline()) is not None:
                timeout = deadline - self.clock()
            batch = await self._next_batch(timeout)
            for item in batch:
                if item == RESTORED:
                    live = True
                    engine.restored()
                    await self._start_api(engine)
                    self.health.ready()
                    log.info(
                        "ready",
                        extra={
                            "alerts_restored": restored,
                            "groups": len(engine.dispatcher),
                            "notification_log_entries": len(engine.nflog),
                            "escalations": len(engine.escalations),
                            "silences": len(engine.silences),
                            "restore_s": round(time.monotonic() - started, 3),
                        },
                    )
                elif item == FAILED:
                    self.health.failed("the alert feed stopped")
                    return 1
                elif await self._handle(engine, item, live):
                    restored += not live
                else:
                    break  # stopping with a dead letter unwritten: leave it unhandled
            if live:
                engine.tick()
        return 0

    async def _next_batch(self, timeout: float | None) -> list:
        if timeout is not None and timeout <= 0:
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return []
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return []

    async def _handle(self, engine: Engine, message: Message, live: bool) -> bool:
        """Route one message; False if it could not be dead-lettered before a stop."""
        assert self._feed is not None
        CONSUMED.labels(NAME, message.topic).inc()
        if message.value is None:
            # Someone deleted a key of the compacted topic. Nothing to route; say so.
            if live:
                metrics.ALERTS_RECEIVED.labels("tombstone").inc()
                log.info("alert tombstone ignored", extra={"key": repr(message.key)})
        else:
            try:
                alert = Alert.from_event(self.codec.decode_as("Alert", message.value))
                engine.insert(alert)
            except Exception as exc:
                if not isinstance(exc, EventError):
                    log.exception(
                        "alert could not be routed",
                        extra={"partition": message.partition, "offset": message.offset},
                    )
                if not await self._dead_letter(message, exc):
                    return False
            else:
                PROCESSED.labels(NAME, message.topic).inc()
                if live:
                    metrics.ALERTS_RECEIVED.labels(alert.status).inc()
                    log.debug(
                        "alert received",
                        extra={
                            "fingerprint": alert.fingerprint,
                            "status": alert.status,
                            "lag_ms": int(self.clock() * 1000) - alert.event_time_ms,
                        },
                    )
                else:
                    metrics.ALERTS_RESTORED.inc()
        self._feed.handled(message.partition, message.offset)
        return True

    async def _dead_letter(self, message: Message, exc: Exception) -> bool:
        kind = error_kind(exc)
        where = {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "kind": kind,
        }
        if message.replay:
            # Below the bookmark: an earlier process dead-lettered it already.
            log.debug("bad alert already dead-lettered", extra=where)
            return True
        source = Source(
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.value,
            message.headers,
        )
        # The bookmark passes this message once we return: keep trying until the broker
        # has the dead letter (or we are told to stop, and the next process retries).
        while True:
            try:
                await self._dead_letters.write_async(source, exc, self._send_dead_letter)
                return True
            except KafkaException as error:
                log.error("dead letter not written; retrying", extra={**where, "error": str(error)})
                if self._stop.is_set():
                    return False
                await asyncio.sleep(1.0)

    async def _dead_letter_bytes(
        self, value: bytes, exc: Exception, kind: str, origin: str = "/api/v1/alertmanager"
    ) -> None:
        """A bad alert from the HTTP ingest: to the dead-letter topic like any other (the
        API's answer lists it, so no log line of its own)."""
        source = Source(f"http:{origin}", -1, -1, None, value)
        await self._dead_letters.write_async(
            source, exc, self._send_dead_letter, kind=kind, logged=False
        )

    # -- writing ----------------------------------------------------------------------------

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        assert self._producer is not None
        await self._producer.send(topic, key, value, headers)

    async def _send_dead_letter(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list
    ) -> None:
        await self._send(topic, key, value, headers)

    async def _persist(self, topic: str, key: bytes, value: bytes | None) -> None:
        await self._send(self.settings.topic(topic), key, value)

    async def _publish_alert(self, record: dict) -> None:
        value = self.codec.encode("Alert", record)
        await self._send(self.settings.topic("alerts"), record["fingerprint"].encode(), value)


def serve(config: RouterConfig, routing: RoutingConfig) -> int:
    """Run the router (``run(spec)`` read and checked both already): 0 after SIGTERM, 1
    without Kafka."""
    runtime_logs.configure(NAME, config.service.log_level)
    # httpx logs every request at INFO; the notifier logs each delivery once, with context.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    log.info(
        "routing loaded",
        extra={
            "config": routing.path,
            "routes": sum(1 for _ in routing.route.walk()),
            "receivers": sorted(routing.receivers),
            "escalation_policies": sorted(routing.policies),
        },
    )
    return asyncio.run(Router(config, routing).run())
