"""The ``human-review`` topic on Kafka: publishing requests (never blocking the caller)
and reading every review's newest state (for the reviewer's command line)."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
from typing import Any

from ..settings import KafkaSettings, topic_prefix
from .human import TOPIC

log = logging.getLogger("watchkeeper.continuity")


class ReviewTopic:
    """A producer of review records. ``publish`` raises ``BufferError`` when librdkafka's
    queue is full (the guard counts that step as failed); it never waits for the broker."""

    def __init__(
        self,
        settings: KafkaSettings | None = None,
        *,
        prefix: str | None = None,
        client_id: str = "watchkeeper-review",
    ) -> None:
        from confluent_kafka import Producer

        from ..sdk._shared import librdkafka_log

        self.settings = settings or KafkaSettings.from_env()
        self.topic = (topic_prefix() if prefix is None else prefix) + TOPIC
        self.failed = 0
        self._producer = Producer(
            self.settings.confluent(
                **{
                    "client.id": client_id,
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 5,
                    "message.timeout.ms": 120_000,
                    "on_delivery": self._on_delivery,
                    "logger": librdkafka_log,
                }
            )
        )
        # Requests still queued at exit would be lost: a human would never be asked.
        atexit.register(self._flush_at_exit)

    def publish(self, key: str, value: bytes) -> None:
        self._producer.produce(self.topic, value, key.encode())
        self._producer.poll(0)

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for delivery; return how many records are still undelivered."""
        return self._producer.flush(timeout)

    def _flush_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            left = self.flush(5.0)
            if left:
                log.warning("%d review request(s) undelivered at exit", left)

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failed += 1
            log.warning("review request not delivered: %s", err)


def read_reviews(
    settings: KafkaSettings, prefix: str | None = None, timeout_s: float = 30.0
) -> tuple[dict[str, dict[str, Any]], int]:
    """Every review's newest record by ``review_id``, and how many records were unreadable
    (skipped, not fatal: one bad record must not hide the other reviews)."""
    from ..runtime import compacted

    topic = (topic_prefix() if prefix is None else prefix) + TOPIC
    reviews: dict[str, dict[str, Any]] = {}
    bad = 0
    for record in compacted.read(settings, topic, timeout_s):
        if record.key is None:
            bad += 1
            continue
        key = record.key.decode(errors="replace")
        if record.value is None:
            reviews.pop(key, None)
            continue
        try:
            value = json.loads(record.value)
            if not isinstance(value, dict) or value.get("review_id") != key:
                raise ValueError("not a review record")
        except ValueError:
            bad += 1
            continue
        reviews[key] = value
    return reviews, bad
