"""replication, wired: the poll loop, its metrics, the alerts it publishes, /healthz.

The loop runs on the main thread and the HTTP server on its own, so a poll stuck on a
cluster that stopped answering is seen: ``/healthz`` says ``stalled`` once no poll has
completed for ``2 * poll + 3 * timeout`` seconds.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from confluent_kafka import Producer

from watchkeeper.codec import Codec
from watchkeeper.kit import AlertEmitter, prometheus_count
from watchkeeper.mirror.lag import PartitionLag
from watchkeeper.mirror.probe import LagProbe, ProbeError
from watchkeeper.runtime import startup
from watchkeeper.runtime.http import Health

from . import metrics
from .config import ReplicationConfig
from .watch import Change, ReplicationWatch

log = logging.getLogger(__name__)


class Poller:
    """One poll: every prefixed topic of a, each partition's lag to b."""

    def __init__(self, config: ReplicationConfig) -> None:
        self.config = config
        kafka = config.service.kafka
        self.probe = LagProbe(
            kafka.bootstrap_servers,
            config.target,
            timeout=config.timeout_s,
            source_extra={k: v for k, v in kafka.confluent().items() if k != "bootstrap.servers"},
        )
        self.exported: set[tuple[str, str]] = set()

    def poll(self) -> list[PartitionLag] | None:
        """The lags of the partitions that answered, or None when b cannot be reached at
        all. Raises ProbeError when a cannot."""
        topics = self.probe.topics_with_prefix(self.config.service.prefix)
        try:
            self.probe.partitions([], on="target")  # b answers metadata at all?
        except ProbeError:
            return None
        lags, errors = self.probe.lags(topics)
        for exc in errors:
            # One partition without a leader yet (just created, or moving) must not blind
            # the whole poll: skipped, counted, and asked again next time.
            metrics.PARTITION_ERRORS.labels(exc.cluster).inc()
            log.info("partition skipped", extra={"error": str(exc)})
        return lags

    def export(self, lags: list[PartitionLag]) -> None:
        seen = set()
        for lag in lags:
            labels = (lag.topic, str(lag.partition))
            seen.add(labels)
            metrics.LAG_RECORDS.labels(*labels).set(lag.records)
            metrics.LAG_SECONDS.labels(*labels).set(lag.seconds)
        for gone in self.exported - seen:  # a topic deleted on a: drop its series
            metrics.LAG_RECORDS.remove(*gone)
            metrics.LAG_SECONDS.remove(*gone)
        self.exported = seen


def serve(config: ReplicationConfig) -> int:
    settings = config.service
    health = Health(settings.name)
    last_poll = [time.monotonic()]
    stall_s = 2 * config.poll_s + 3 * config.timeout_s

    def stalled() -> str | None:
        age = time.monotonic() - last_poll[0]
        return f"no poll completed for {age:.0f} s" if age > stall_s else None

    problems: dict[str, str] = {}
    health.add_check(stalled, status="stalled")
    health.add_check(lambda: problems.get("source"))
    health.add_check(lambda: problems.get("target"))
    http = startup.start(
        settings,
        health,
        lambda: startup.apply_topics_with_retry(settings),
        target=config.target,
    )
    if http is None:
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    producer = Producer(settings.kafka.confluent(**{"enable.idempotence": True, "acks": "all"}))
    alerts = AlertEmitter("replication", Codec().encode, prometheus_count(metrics.ALERTS))
    watch = ReplicationWatch(
        config.target_name,
        config.threshold_s,
        fire_after=config.polls(config.for_s),
        resolve_after=config.resolve_after,
        down_after=config.polls(config.down_after_s),
    )
    poller = Poller(config)
    health.ready()
    log.info("polling", extra={"target": config.target, "poll_s": config.poll_s})
    try:
        while not stop.is_set():
            started = time.monotonic()
            _one_poll(poller, watch, alerts, producer, settings.prefix, problems)
            last_poll[0] = time.monotonic()
            stop.wait(max(0.0, config.poll_s - (last_poll[0] - started)))
    finally:
        health.stopping()
        producer.flush(10)
        poller.probe.close()
        http.stop()
    return 0


def _one_poll(poller, watch, alerts, producer, prefix, problems) -> None:
    now_ms = int(time.time() * 1000)
    try:
        lags = poller.poll()
    except ProbeError as exc:
        problems["source"] = f"cluster a cannot be reached: {exc}"
        metrics.POLLS.labels("source_error").inc()
        log.warning("source unreachable", extra={"error": str(exc)})
        return
    problems.pop("source", None)
    if lags is None:
        problems["target"] = "cluster b cannot be reached"
        metrics.TARGET_UP.set(0)
        metrics.POLLS.labels("target_error").inc()
    else:
        problems.pop("target", None)
        metrics.TARGET_UP.set(1)
        metrics.POLLS.labels("ok").inc()
        poller.export(lags)
    metrics.LAST_POLL.set(time.time())
    for change in watch.observe(lags, now_ms):
        _publish(change, alerts, producer, prefix, now_ms)
    producer.poll(0)


def _publish(change: Change, alerts: AlertEmitter, producer, prefix: str, now_ms: int) -> None:
    severity = "page" if change.identity["alertname"] == "ReplicationDown" else "ticket"
    out = alerts.emit(
        change.identity,
        change.status,
        labels={"severity": severity, "service": "replication"},
        annotations={"summary": change.summary},
        value=change.value,
        threshold=change.threshold,
        starts_at_ms=change.starts_at_ms,
        now_ms=now_ms,
        ends_at_ms=now_ms if change.status == "resolved" else None,
    )

    def delivered(error, message) -> None:
        if error is not None:
            log.error("alert not delivered", extra={"error": str(error), **change.identity})

    producer.produce(prefix + out.topic, key=out.key, value=out.value, on_delivery=delivered)
    log.info("alert", extra={"status": change.status, **change.identity})
