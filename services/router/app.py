"""router wiring: alerts in from Kafka, webhooks out, the notification log beside.

Start-up order matters for "no loss, no repeat":

1. the routing file (a bad one exits 2 before touching anything);
2. topics applied, then the notification log read to its end: what each receiver was told;
3. the alerts topic read from the beginning (compacted: the latest state of every alert)
   into the aggregation groups; no notification goes out while this runs;
4. then live: ``/healthz`` turns ready, timers run, and each group's first flush compares
   its alerts with the log, so only what was not yet delivered is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

from confluent_kafka import KafkaException

from watchkeeper.codec import Codec, EventError
from watchkeeper.runtime import Health, ServiceHTTP, dead_letter_headers
from watchkeeper.runtime import logs as runtime_logs
from watchkeeper.runtime.dlq import error_kind
from watchkeeper.runtime.metrics import CONSUMED, DEAD_LETTERS, PROCESSED
from watchkeeper.runtime.service import apply_topics_with_retry
from watchkeeper.settings import ConfigError

from . import configfile, metrics
from .alert import Alert
from .config import NAME, RouterConfig
from .configfile import ConfigFileError, RoutingConfig
from .dispatch import Dispatcher, Flush
from .kafka_io import FAILED, RESTORED, AckingProducer, AlertFeed, Message, read_log
from .nflog import NotificationLog, NotificationLogError
from .notify import Notifier

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
        self.nflog = NotificationLog()
        self.dispatcher = Dispatcher(routing.route)
        self._stop = asyncio.Event()
        self._queue: asyncio.Queue[list] = asyncio.Queue(maxsize=16)
        self._producer: AckingProducer | None = None
        self._feed: AlertFeed | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        http = ServiceHTTP(self.health, self.settings.http_host, self.settings.http_port).start()
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

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("%s: stopping", sig.name)
        self.health.stopping()
        self._stop.set()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait([])  # wake the loop if it is waiting for alerts

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> int:
        started = time.monotonic()
        try:
            await loop.run_in_executor(None, self._apply_topics)
            entries = await loop.run_in_executor(None, self._restore_log)
        except (KafkaException, TimeoutError) as exc:
            if self._stop.is_set():
                return 0  # told to stop while still waiting for the cluster
            self.health.failed(f"cannot reach Kafka: {exc}")
            log.error("cannot reach Kafka; giving up", extra={"error": str(exc)})
            return 1
        log.info("notification log restored", extra={"entries": entries})
        if self._stop.is_set():
            return 0
        self._producer = AckingProducer(self.settings.kafka, loop)
        notifier = Notifier(
            self.routing.receivers,
            self.nflog,
            self._persist,
            policy=self.config.retry,
            clock=self.clock,
            external_url=self.config.external_url,
            max_in_flight=self.config.max_in_flight,
        )
        self._feed = AlertFeed(
            self.settings.kafka,
            self.settings.topic("alerts"),
            self.settings.group,
            loop,
            self._queue,
            timeout_s=self.config.startup_timeout_s,
        )
        self._feed.start()
        self.health.add_check(lambda: self._problem(notifier))
        code = 0
        try:
            code = await self._process(notifier, started)
        finally:
            self.health.stopping()
            self._feed.stop()
            await loop.run_in_executor(None, self._feed.join, 10.0)
            abandoned = await notifier.close(self.config.shutdown_timeout_s)
            unacked = await loop.run_in_executor(None, self._producer.close, 10.0)
            log.info("stopped", extra={"abandoned_sends": abandoned, "unacked_writes": unacked})
        return code

    def _problem(self, notifier: Notifier) -> str | None:
        """For /healthz: what keeps the router from doing its job right now."""
        if self._feed is not None and not self._feed.is_alive() and not self._stop.is_set():
            return "the alert feed stopped"
        if self._feed is not None and self._feed.error:
            return f"alerts topic: {self._feed.error}"
        if notifier.log_write_error:
            return f"notification log writes failing: {notifier.log_write_error}"
        return None

    def _apply_topics(self) -> None:
        apply_topics_with_retry(self.settings, should_stop=self._stop.is_set)

    def _restore_log(self) -> int:
        topic = self.settings.topic("notification-log")
        records = read_log(
            self.settings.kafka,
            topic,
            f"{self.settings.group}.restore",
            self.config.startup_timeout_s,
        )
        for key, value in records:
            try:
                self.nflog.apply(key, value)
            except NotificationLogError as exc:
                # Our own log, written by an incompatible version or damaged: the worst
                # outcome of skipping a record is one repeated notification.
                log.warning("notification log record skipped", extra={"error": str(exc)})
        metrics.NFLOG_ENTRIES.set(len(self.nflog))
        return len(self.nflog)

    # -- the loop -------------------------------------------------------------------------

    async def _process(self, notifier: Notifier, started: float) -> int:
        live = False
        restored = 0
        while not self._stop.is_set():
            timeout = None
            if live and (deadline := self.dispatcher.next_deadline()) is not None:
                timeout = deadline - self.clock()
            batch = await self._next_batch(timeout)
            for item in batch:
                if item == RESTORED:
                    live = True
                    self.health.ready()
                    log.info(
                        "ready",
                        extra={
                            "alerts_restored": restored,
                            "groups": len(self.dispatcher),
                            "notification_log_entries": len(self.nflog),
                            "restore_s": round(time.monotonic() - started, 3),
                        },
                    )
                elif item == FAILED:
                    self.health.failed("the alert feed stopped")
                    return 1
                elif await self._handle(item, live):
                    restored += not live
                else:
                    break  # stopping with a dead letter unwritten: leave it unhandled
            if live:
                for flush in self.dispatcher.due(self.clock()):
                    notifier.submit(flush, self._flushed)
            metrics.ACTIVE_GROUPS.set(len(self.dispatcher))
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

    async def _handle(self, message: Message, live: bool) -> bool:
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
                self.dispatcher.insert(alert, self.clock())
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
        assert self._producer is not None
        headers = dead_letter_headers(
            NAME, message.topic, message.partition, message.offset, exc, kind, message.headers
        )
        # The bookmark passes this message once we return: keep trying until the broker
        # has the dead letter (or we are told to stop, and the next process retries).
        while True:
            try:
                await self._producer.send(
                    self.settings.topic("dlq"), message.key, message.value, headers
                )
                break
            except KafkaException as error:
                log.error("dead letter not written; retrying", extra={**where, "error": str(error)})
                if self._stop.is_set():
                    return False
                await asyncio.sleep(1.0)
        DEAD_LETTERS.labels(NAME, message.topic, kind).inc()
        log.warning("dead letter", extra={**where, "error": str(exc)[:300]})
        return True

    async def _persist(self, key: bytes, value: bytes | None) -> None:
        assert self._producer is not None
        await self._producer.send(self.settings.topic("notification-log"), key, value)

    def _flushed(self, flush: Flush, ok: bool) -> None:
        self.dispatcher.done(flush, ok)
        metrics.ACTIVE_GROUPS.set(len(self.dispatcher))


def main() -> int:
    """``python -m services.router``: 0 after SIGTERM, 1 without Kafka, 2 on bad settings."""
    try:
        config = RouterConfig.from_env()
    except ConfigError as exc:
        runtime_logs.configure(NAME)
        log.error("invalid settings: %s", exc)
        return 2
    runtime_logs.configure(NAME, config.service.log_level)
    # httpx logs every request at INFO; the notifier logs each delivery once, with context.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        routing = configfile.load(config.config_path)
    except ConfigFileError as exc:
        log.error(
            "invalid routing file %s",
            exc,
            extra={"file": exc.path, "line": exc.line, "reason": exc.reason},
        )
        return 2
    log.info(
        "routing loaded",
        extra={
            "config": routing.path,
            "routes": sum(1 for _ in routing.route.walk()),
            "receivers": sorted(routing.receivers),
        },
    )
    return asyncio.run(Router(config, routing).run())
