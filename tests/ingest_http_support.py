"""Helpers of the HTTP ingest service's tests (services/ingest): tokens, a client, events."""

from __future__ import annotations

import time

import httpx
from confluent_kafka import KafkaError, KafkaException

from watchkeeper.codec import Codec
from watchkeeper.devstack._offsets import read_to_end
from watchkeeper.settings import KafkaSettings

ALL = "0123456789abcdef-all"
FEEDBACK_ONLY = "0123456789abcdef-feedback"
PREDICTIONS_ONLY = "0123456789abcdef-predictions"
TOKENS = (
    f"app ingest {ALL}; labeller ingest:feedback {FEEDBACK_ONLY}; "
    f"scorer ingest:predictions {PREDICTIONS_ONLY}"
)
CODEC = Codec()
SCHEMAS = {"predictions": "PredictionEvent", "feedback": "FeedbackEvent",
           "telemetry": "TelemetryEvent"}  # fmt: skip


def prediction(i: int, **more) -> dict:
    return {"model": "fraud" if i % 2 else "recsys", "version": "3", "latency_ms": float(i),
            "score": i / 1000, "num_features": {"amount": i * 1.5}, **more}  # fmt: skip


def client(url: str, token: str | None = ALL, timeout: float = 30.0) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=timeout)


def on_topic(settings: KafkaSettings, prefix: str, topic: str) -> list[tuple[bytes, dict]]:
    """Every record of the topic, to its end offsets: (key, decoded event). A partition of a
    topic created a moment ago may have no leader yet (NOT_LEADER_FOR_PARTITION from the
    offsets request, seen on the session broker): asked again, for a bounded time."""
    deadline = time.monotonic() + 60
    while True:
        try:
            messages = read_to_end(settings, prefix + topic)
            break
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or error.code() not in _NOT_YET:
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # a retry's pause, not a wait for something to happen
    return [(m.key(), CODEC.decode_as(SCHEMAS[topic], m.value())) for m in messages]


_NOT_YET = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE}
