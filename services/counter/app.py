"""counter wiring: predictions, telemetry and feedback in; Prometheus counts out."""

from __future__ import annotations

from typing import Any

from watchkeeper.runtime import Service

from . import metrics
from .config import CounterConfig
from .logic import OTHER, EventCounter

INPUTS = (
    ("predictions", "PredictionEvent"),
    ("telemetry", "TelemetryEvent"),
    ("feedback", "FeedbackEvent"),
)


def build(config: CounterConfig) -> Service:
    service = Service(config.service)
    counter = EventCounter(config.max_series)

    def handler_for(topic: str):
        def handle(record: dict[str, Any]) -> None:
            key = counter.add(topic, record)
            if key[1] == OTHER:
                metrics.SERIES_CAPPED.inc()
            metrics.EVENTS.labels(*key).inc()

        return handle

    for topic, schema in INPUTS:
        service.consume(topic, schema, handler_for(topic))
    return service
