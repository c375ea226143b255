"""What both engines do before their first event: logs, /metrics and /healthz, topics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaException

from .. import topic_admin
from ..kit.routes import Route
from ..settings import ServiceSettings, env_float
from . import logs
from .http import Health, ServiceHTTP

log = logging.getLogger(__name__)


def apply_topics_with_retry(
    settings: ServiceSettings, should_stop: Callable[[], bool] = lambda: False
) -> None:
    """Create or align the declared topics, retrying while the cluster comes up (for
    ``WK_STARTUP_TIMEOUT_S``, or until ``should_stop()``)."""
    deadline = time.monotonic() + env_float("WK_STARTUP_TIMEOUT_S", 60.0)
    delay = 0.5
    while True:
        try:
            topic_admin.apply(settings.kafka, prefix=settings.prefix, timeout=10.0)
            return
        except KafkaException as exc:
            if time.monotonic() + delay > deadline or should_stop():
                raise
            log.warning(
                "cluster not ready; retrying topic apply",
                extra={"error": str(exc), "retry_in_s": delay},
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def start(
    settings: ServiceSettings,
    health: Health,
    apply_topics: Callable[[], None],
    routes: Sequence[Route] = (),
    **context: Any,
) -> ServiceHTTP | None:
    """Configure the JSON logs, serve /metrics and /healthz, apply the topics.

    Returns the running HTTP server, or None when Kafka could not be reached: then
    /healthz already says so, the server is stopped and the reason is logged.
    """
    logs.configure(settings.name, settings.log_level)
    http = ServiceHTTP(health, settings.http_host, settings.http_port, routes=routes).start()
    log.info(
        "starting",
        extra={
            "group": settings.group,
            "bootstrap": settings.kafka.bootstrap_servers,
            "http_port": http.port,
            **context,
        },
    )
    try:
        apply_topics()
    except KafkaException as exc:
        health.failed(f"cannot reach Kafka: {exc}")
        log.error("cannot reach Kafka; giving up", extra={"error": str(exc)})
        http.stop()
        return None
    return http
