"""Writing a dead letter: one way for every engine, whatever its Kafka client.

The engine says where the message came from and why it failed, and passes the function
that produces to the dead-letter topic: a transactional produce for the batch engine (the
dead letter commits with the offsets), an awaited send for Faust and the router (the offset
moves on once we return, so the dead letter must be durable first). The headers
(``dlq.dead_letter_headers``), the ``wk_dead_letters_total`` count and the log line are
the same for all; they come after ``send`` returned, so a send that raises counts nothing
and the engine may try again.

>>> sent = []
>>> letters = DeadLetters("counter", "wk.dlq")
>>> source = Source("wk.predictions", 2, 41, b"k", b"v", [("trace", b"1")])
>>> letters.write(source, ValueError("boom"), lambda *a: sent.append(a))
>>> topic, value, key, headers = sent[0]
>>> topic, value, key, dict(headers)["dlq.error.kind"], dict(headers)["trace"]
('wk.dlq', b'v', b'k', b'processing_error', b'1')
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .dlq import dead_letter_headers, error_kind
from .metrics import DEAD_LETTERS

Headers = list[tuple[str, bytes]]
Send = Callable[[str, bytes | None, bytes | None, Headers], None]
AsyncSend = Callable[[str, bytes | None, bytes | None, Headers], Awaitable[None]]


@dataclass(frozen=True)
class Source:
    """The message that could not be processed, as it was read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Iterable[tuple[str, bytes]] | None = None

    @classmethod
    def of(cls, message: Any) -> Source:
        """The source of a consumed ``confluent_kafka.Message``."""
        return cls(
            message.topic(),
            message.partition(),
            message.offset(),
            message.key(),
            message.value(),
            message.headers(),
        )


class DeadLetters:
    """One service's dead letters to ``topic``; the log line goes to the engine's ``log``
    (so it keeps the logger name it always had)."""

    def __init__(self, service: str, topic: str, log: logging.Logger | None = None) -> None:
        self.service = service
        self.topic = topic
        self._log = log or logging.getLogger(__name__)

    def headers(self, source: Source, exc: BaseException, kind: str) -> Headers:
        return dead_letter_headers(
            self.service, source.topic, source.partition, source.offset, exc, kind, source.headers
        )

    def write(self, source: Source, exc: BaseException, send: Send) -> None:
        """Build the dead letter, ``send(topic, value, key, headers)`` it, count and log."""
        kind = error_kind(exc)
        send(self.topic, source.value, source.key, self.headers(source, exc, kind))
        self._recorded(source, exc, kind, logged=True)

    async def write_async(
        self,
        source: Source,
        exc: BaseException,
        send: AsyncSend,
        *,
        kind: str | None = None,
        logged: bool = True,
    ) -> None:
        """As :func:`write`, with a send that is awaited until the broker has it. ``kind``
        overrides the exception's; ``logged=False`` for a caller that reports the dead
        letter in its own answer (the router's HTTP ingest)."""
        kind = kind or error_kind(exc)
        await send(self.topic, source.value, source.key, self.headers(source, exc, kind))
        self._recorded(source, exc, kind, logged)

    def _recorded(self, source: Source, exc: BaseException, kind: str, logged: bool) -> None:
        DEAD_LETTERS.labels(self.service, source.topic, kind).inc()
        if logged:
            self._log.warning(
                "dead letter",
                extra={
                    "topic": source.topic,
                    "partition": source.partition,
                    "offset": source.offset,
                    "kind": kind,
                    "error": str(exc)[:300],
                },
            )
