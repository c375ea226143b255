"""The Kafka side of ingest: one idempotent producer (acks=all) shared by every request,
a thread serving its delivery reports, and a probe that asks the cluster for metadata so
that ``/healthz`` says whether Kafka answers.

``send`` hands a request's accepted events to librdkafka and returns a future that is done
when the broker has answered for every one of them: acknowledged (durable) or failed.
librdkafka gives up on a message after ``message.timeout.ms``, which is shorter than the
request's deadline, so an answer knows each event's fate. The in-flight bound's room is
given back per event as its report arrives, whatever the request did meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from functools import partial

from confluent_kafka import KafkaError, KafkaException, Producer

from . import metrics
from .config import IngestConfig
from .inflight import InFlight
from .items import Accepted, Rejected

log = logging.getLogger(__name__)


class Delivery:
    """One request's events until the broker has answered for each."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pending: set[int]) -> None:
        self.loop = loop
        self.pending = pending
        self.failed: dict[int, str] = {}
        self.future: asyncio.Future[dict[int, str]] = loop.create_future()
        self._lock = threading.Lock()
        if not pending:
            self.future.set_result({})

    def report(self, index: int, error: str | None) -> None:
        with self._lock:
            self.pending.discard(index)
            if error is not None:
                self.failed[index] = error
            done = not self.pending
        if done:
            self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.future.done():
            self.future.set_result(dict(self.failed))

    def unanswered(self) -> dict[int, str]:
        """At the deadline: what failed and what the broker has not answered for yet."""
        with self._lock:
            left = {i: "not acknowledged within the deadline" for i in self.pending}
            return {**self.failed, **left}


class Sink:
    def __init__(self, config: IngestConfig, inflight: InFlight) -> None:
        self.config = config
        self.inflight = inflight
        settings = config.service
        self.prefix = settings.prefix
        self.producer = Producer(
            settings.kafka.confluent(
                **{
                    "client.id": f"watchkeeper-{settings.name}",
                    "enable.idempotence": True,
                    "acks": "all",
                    "message.timeout.ms": config.delivery_timeout_ms,
                    "linger.ms": 5,
                    "compression.type": "lz4",
                    # The bound above is ours; librdkafka's queue must never be the one
                    # that says no (a BufferError half-way through a batch).
                    "queue.buffering.max.messages": config.max_inflight_events + 1_000,
                    "queue.buffering.max.kbytes": min(
                        2_097_151, 2 * config.max_inflight_bytes // 1024 + 1024
                    ),
                    "reconnect.backoff.max.ms": 1_000,
                    "error_cb": self._on_error,
                }
            )
        )
        self._stop = threading.Event()
        self._last_answer = time.monotonic()
        self._last_error_log = 0.0
        self._threads = [
            threading.Thread(target=self._serve_reports, name="ingest-reports", daemon=True),
            threading.Thread(target=self._probe, name="ingest-probe", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def send(
        self, accepted: Sequence[Accepted], loop: asyncio.AbstractEventLoop
    ) -> tuple[list[Rejected], Delivery]:
        """Produce ``accepted`` (their room in the bound already taken). Events librdkafka
        refuses at once (larger than ``message.max.bytes``) come back rejected."""
        delivery = Delivery(loop, {a.index for a in accepted})
        refused: list[Rejected] = []
        for item in accepted:
            callback = partial(self._delivered, delivery, item)
            try:
                self.producer.produce(
                    self.prefix + item.topic, item.value, item.key, on_delivery=callback
                )
            except (KafkaException, BufferError) as exc:
                error = exc.args[0] if exc.args else exc
                name = error.name() if isinstance(error, KafkaError) else type(exc).__name__
                code = "too_large" if name == "MSG_SIZE_TOO_LARGE" else "not_produced"
                refused.append(Rejected(item.index, None, f"Kafka refused it: {name}", code))
                self.inflight.give_back(1, len(item.value))
                delivery.report(item.index, None)
        return refused, delivery

    def _delivered(self, delivery: Delivery, item: Accepted, error, message) -> None:
        self.inflight.give_back(1, len(item.value))
        if error is None:
            self._last_answer = time.monotonic()
            metrics.EVENTS.labels(item.topic).inc()
            delivery.report(item.index, None)
            return
        metrics.FAILED.labels(item.topic).inc()
        delivery.report(
            item.index,
            f"not acknowledged: {error.str()}; it may or may not be on the topic: "
            "retry with the same event_id",
        )

    def problem(self) -> str | None:
        silent = time.monotonic() - self._last_answer
        if silent > 2 * self.config.probe_s + 1.0:
            return f"Kafka has not answered for {silent:.0f} s"
        return None

    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            try:
                self.producer.poll(0.1)
            except Exception:  # a callback's bug must not stop every later report
                log.exception("delivery report failed")

    def _probe(self) -> None:
        topic = self.prefix + "predictions"
        while not self._stop.wait(self.config.probe_s):
            try:
                self.producer.list_topics(topic, timeout=self.config.probe_s)
            except KafkaException as exc:
                metrics.KAFKA_UP.set(0)
                log.warning("Kafka does not answer", extra={"error": str(exc)})
                continue
            self._last_answer = time.monotonic()
            metrics.KAFKA_UP.set(1)

    def _on_error(self, error: KafkaError) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= 30.0:  # librdkafka repeats it at every reconnect
            self._last_error_log = now
            log.warning("kafka client error", extra={"code": error.name(), "error": error.str()})

    def close(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for what is in flight; return what is left."""
        left = self.producer.flush(timeout_s)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        return left
