"""ingest, wired: aiohttp serving ``POST /v1/events``, ``/healthz`` and ``/metrics`` on one
port, the checks of ``body``, ``items`` and ``scopes``, the ``inflight`` bound, and the
``sink`` that answers only once the broker has.

Order of the checks (each refuses the request before the next is paid for): the token
(401), the size (413), the content type and encoding (415), the JSON and its shape (400),
the number of events (413), the scopes of every topic the batch names (403), each event
against its contract (per item), the bound (429), the broker (200/207, or 503 at the
deadline).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from watchkeeper.codec import Codec
from watchkeeper.control.errors import error_middleware, error_response
from watchkeeper.runtime import logs
from watchkeeper.runtime.http import Health
from watchkeeper.runtime.startup import apply_topics_with_retry

from . import body as bodies
from . import metrics
from .answer import summarize
from .config import IngestConfig
from .inflight import InFlight
from .items import Accepted, Checker, Rejected, topic_of
from .scopes import TOPICS, missing
from .sink import Sink

log = logging.getLogger(__name__)
PATH = "/v1/events"


class Ingest:
    def __init__(self, config: IngestConfig, health: Health) -> None:
        self.config = config
        self.health = health
        self.inflight = InFlight(config.max_inflight_events, config.max_inflight_bytes)
        self.check = Checker(Codec(), now_ms=lambda: time.time_ns() // 1_000_000)
        self.sink: Sink | None = None
        metrics.INFLIGHT_EVENTS.set_function(lambda: self.inflight.events)
        metrics.INFLIGHT_BYTES.set_function(lambda: self.inflight.bytes)

    def app(self) -> web.Application:
        def count(endpoint: str, status: int) -> None:
            if endpoint not in ("/metrics", "/healthz"):  # scrapes would drown the callers
                metrics.REQUESTS.labels(str(status)).inc()

        app = web.Application(
            client_max_size=self.config.max_body,
            middlewares=[error_middleware(self.config.max_body, count)],
        )
        app.router.add_post(PATH, self.post)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        status, body = self.health.report()
        return web.json_response(body, status=status)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def post(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        try:
            return await self._post(request, started)
        finally:
            metrics.LATENCY.observe(time.monotonic() - started)

    async def _post(self, request: web.Request, started: float) -> web.Response:
        batch = await self._admit(request)
        if isinstance(batch, web.Response):
            return batch
        outcomes: list[Accepted | Rejected] = [
            self.check(i, item, batch.topic) for i, item in enumerate(batch.events)
        ]
        failed: dict[int, str] = {}
        accepted = [o for o in outcomes if isinstance(o, Accepted)]
        if accepted:
            written = await self._write(accepted, started)
            if isinstance(written, web.Response):
                return written
            refused, failed = written
            outcomes = [refused.get(o.index, o) for o in outcomes]
        for outcome in outcomes:
            if isinstance(outcome, Rejected):
                topic = topic_of(batch.events[outcome.index], batch.topic)
                metrics.REJECTED.labels(topic if topic in TOPICS else "unknown", outcome.code).inc()
        status, answer = summarize(outcomes, failed)
        if status == 503:
            metrics.THROTTLED.labels("not_acknowledged").inc()
            log.warning("events not acknowledged", extra={"failed": answer["failed"]})
            return web.json_response(answer, status=503, headers=self._after())
        return web.json_response(answer, status=status)

    async def _admit(self, request: web.Request) -> bodies.Batch | web.Response:
        """The batch, once the caller, the body and the scopes pass; else the refusal."""
        config = self.config
        presented = _bearer(request)
        token = config.tokens.authenticate(presented) if presented else None
        if token is None:
            why = "the token is not valid" if presented else "a bearer token is required"
            return error_response(401, why)
        if self.sink is None:
            return self._retry(503, "starting: Kafka is not ready yet", "starting")
        try:
            kind = bodies.media_type(request.headers.get("Content-Type", ""))
            if kind not in bodies.TYPES:  # before reading a body nobody can use
                bodies.parse(b"", kind)
            # aiohttp reads up to client_max_size, then raises 413 (the middleware answers it).
            raw = await request.read()
            raw = bodies.decode(raw, request.headers.get("Content-Encoding", ""), config.max_body)
            batch = bodies.parse(raw, kind, request.query.get("topic"))
        except bodies.BadBody as exc:
            return error_response(exc.status, exc.reason)
        if not batch.events:
            return error_response(400, "the batch has no events")
        if len(batch.events) > config.max_events:
            return error_response(
                413, f"{len(batch.events)} events in one request; at most {config.max_events}"
            )
        named = {topic_of(item, batch.topic) for item in batch.events} & set(TOPICS)
        lacking = missing(token, named)
        if lacking:
            what = ", ".join(repr(s) for s in lacking)
            return error_response(403, f"this token lacks the {what} scope")
        return batch

    async def _write(
        self, accepted: list[Accepted], started: float
    ) -> tuple[dict[int, Rejected], dict[int, str]] | web.Response:
        """Produce within the bound and wait for the broker up to the deadline: the items
        librdkafka refused at once, and those not acknowledged (index -> why); or 429."""
        config = self.config
        assert self.sink is not None
        if not self.inflight.take(len(accepted), sum(len(a.value) for a in accepted)):
            return self._retry(
                429,
                f"{self.inflight.events} events ({self.inflight.bytes} bytes) wait for "
                f"Kafka; the bound is {config.max_inflight_events} events "
                f"({config.max_inflight_bytes} bytes): retry later",
                "inflight_full",
            )
        refused, delivery = self.sink.send(accepted, asyncio.get_running_loop())
        left = config.deadline_s - (time.monotonic() - started)
        try:
            failed = await asyncio.wait_for(asyncio.shield(delivery.future), max(0.0, left))
        except TimeoutError:
            failed = delivery.unanswered()
        return {r.index: r for r in refused}, failed

    def _after(self) -> dict[str, str]:
        return {"Retry-After": str(self.config.retry_after_s)}

    def _retry(self, status: int, reason: str, why: str) -> web.Response:
        metrics.THROTTLED.labels(why).inc()
        response = error_response(status, reason)
        response.headers.update(self._after())
        return response


def _bearer(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def _main(config: IngestConfig) -> int:
    settings = config.service
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health = Health(settings.name)
    ingest = Ingest(config, health)
    runner = web.AppRunner(
        ingest.app(),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=config.deadline_s,
        # body.decode inflates gzip under our cap and refuses other encodings with 415;
        # aiohttp's own decoding would take br or deflate behind our back.
        auto_decompress=False,
    )
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    log.info(
        "listening",
        extra={"port": settings.http_port, "bootstrap": settings.kafka.bootstrap_servers},
    )
    sink: Sink | None = None
    code = 0
    try:
        try:
            await loop.run_in_executor(None, apply_topics_with_retry, settings, stop.is_set)
        except Exception as exc:
            health.failed(f"cannot reach Kafka: {exc}")
            log.error("cannot reach Kafka; giving up", extra={"error": str(exc)})
            return 1
        sink = Sink(config, ingest.inflight)
        metrics.KAFKA_UP.set(1)
        health.add_check(sink.problem)
        ingest.sink = sink
        health.ready()
        log.info("ready", extra={"topics": [settings.prefix + t for t in TOPICS]})
        await stop.wait()
    finally:
        health.stopping()
        await runner.cleanup()  # answers the requests in flight first (up to the deadline)
        if sink is not None:
            left = await loop.run_in_executor(None, sink.close, config.deadline_s)
            if left:
                log.error("events not delivered at exit", extra={"left": left})
                code = 1
    log.info("stopped")
    return code


def serve(config: IngestConfig) -> int:
    logs.configure(config.service.name, config.service.log_level)
    return asyncio.run(_main(config))
