"""Helpers for the integration tests: read a topic, query a service, run one as a process."""

from __future__ import annotations

import time
import uuid

from watchkeeper.devstack import ServiceProcess, http_json, scrape
from watchkeeper.settings import KafkaSettings

__all__ = ["ServiceProcess", "consume", "http_json", "scrape", "wait_for"]


def consume(settings: KafkaSettings, topic: str, count: int, timeout: float = 30.0) -> list:
    """Read ``count`` committed messages of ``topic`` from the beginning (fewer if time runs
    out). Read-committed, as every consumer of transactional outputs must be."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        settings.confluent(
            **{
                "group.id": f"test-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
    )
    consumer.subscribe([topic])
    messages = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise AssertionError(f"consumer error: {message.error()}")
            messages.append(message)
    finally:
        consumer.close()
    return messages


def wait_for(predicate, timeout: float = 90.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something true; return that. The generous
    default is for a shared CI machine, not a promise about speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = predicate()
        except OSError:  # a request refused by a busy machine: ask again
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
