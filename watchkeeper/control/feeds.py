"""Commands from a topic: a consumer on a thread of its own turns each record into
commands for the service's writer, and commits the record's offset only once every
command it made was answered (accepted, or refused and dead-lettered).

A record that cannot become a command (``FeedError``), or whose command the service
refuses with a 4xx, goes to the dead-letter topic with the reason; while the service
answers 503 (Kafka away for its journal) the feed waits and tries again, so nothing is
skipped. Commands should carry a key derived from the record's content or position:
after a crash the records since the last commit come again and are recorded once.
``tick`` (optional) runs every ``tick_s`` on the feed's thread, for feeds that aggregate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer, Message, Producer

from ..runtime.deadletter import DeadLetters, Source
from ..settings import ServiceSettings
from .commands import Command, Rejected
from .events import Answer

log = logging.getLogger(__name__)


class FeedError(ValueError):
    """This record cannot be a command (the reason goes into the dead letter)."""


Handle = Callable[[Message], list[Command]]
Tick = Callable[[float], list[Command]]


class TopicFeed:
    def __init__(
        self,
        settings: ServiceSettings,
        topic: str,
        group: str,
        handle: Handle,
        tick: Tick | None = None,
        tick_s: float = 1.0,
        from_end: bool = False,
    ) -> None:
        self.settings = settings
        self.topic = settings.topic(topic)
        self.group = f"{settings.group}.{group}"
        self.handle = handle
        self.tick = tick
        self.tick_s = tick_s
        self.from_end = from_end
        self.letters = DeadLetters(settings.name, settings.topic("dlq"), log)
        self.records = 0
        self.dead = 0
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._stopped: Callable[[], bool] = lambda: False

    def start(self, submit: Callable[[Command], Answer], stopped: Callable[[], bool]) -> None:
        self._stopped = stopped
        self._thread = threading.Thread(
            target=self._run, args=(submit, stopped), name=f"feed-{self.topic}", daemon=True
        )
        self._thread.start()

    def problem(self) -> str | None:
        """For ``/healthz``: a feed whose thread ended while the service runs is no feed."""
        if self._thread is None or self._thread.is_alive() or self._stopped():
            return None
        return f"the {self.topic} feed stopped: {self.error or 'its thread ended'}"

    def join(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self, submit: Callable[[Command], Answer], stopped: Callable[[], bool]) -> None:
        kafka = self.settings.kafka
        consumer = Consumer(
            kafka.confluent(
                **{
                    "group.id": self.group,
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                    "auto.offset.reset": "latest" if self.from_end else "earliest",
                }
            )
        )
        producer = Producer(kafka.confluent(**{"enable.idempotence": True, "acks": "all"}))
        consumer.subscribe([self.topic])
        last_tick = time.monotonic()
        try:
            while not stopped():
                messages = consumer.consume(500, 0.5)
                for message in messages:
                    if message.error() is not None:
                        log.warning("consumer error", extra={"error": str(message.error())})
                        continue
                    self.records += 1
                    self._one(message, submit, stopped, producer)
                now = time.monotonic()
                if self.tick is not None and now - last_tick >= self.tick_s:
                    last_tick = now
                    for command in self.tick(time.time()):
                        self._submit(command, submit, stopped)
                if messages and not stopped():
                    consumer.commit(asynchronous=False)
        except Exception as exc:  # Kafka, or a command the writer never answered
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("feed failed; /healthz says so", extra={"topic": self.topic})
        finally:
            consumer.close()
            producer.flush(5)

    def _one(self, message: Message, submit, stopped, producer: Producer) -> None:
        try:
            commands = self.handle(message)
            for command in commands:
                self._submit(command, submit, stopped)
        except (FeedError, Rejected) as exc:
            self._dead_letter(message, exc, producer)

    def _submit(self, command: Command, submit, stopped) -> Answer | None:
        delay = 0.2
        while not stopped():
            try:
                return submit(command)
            except Rejected as exc:
                if exc.status != 503:
                    raise
            time.sleep(delay)  # the journal is away: back off, then the same command again
            delay = min(delay * 2, 5.0)
        return None

    def _dead_letter(self, message: Message, exc: Exception, producer: Producer) -> None:
        source = Source.of(message)

        def send(topic, value, key, headers) -> None:
            producer.produce(topic, value, key, headers=headers)
            if producer.flush(30) != 0:
                raise RuntimeError("the dead letter was not delivered")

        self.letters.write(source, exc, send)
        self.dead += 1
