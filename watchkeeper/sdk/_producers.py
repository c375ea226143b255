"""Which clusters an emitter produces to, and the librdkafka settings of each producer.

>>> from watchkeeper.settings import KafkaSettings
>>> _, c = resolve_clusters(KafkaSettings("a:1"), ["a:1", "b:2"], 3.0, None)
>>> c.bootstraps, c.failover_after_s
(('a:1', 'b:2'), 3.0)
>>> resolve_clusters(KafkaSettings("a:1"), None, None, None)[1].bootstraps
('a:1',)
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import Producer

from ..clusters import CLUSTERS_VAR, Clusters, parse_clusters
from ..settings import ConfigError, KafkaSettings
from ._shared import librdkafka_log


def resolve_clusters(
    settings: KafkaSettings | None,
    clusters: Sequence[str] | None,
    failover_after_s: float | None,
    failback_after_s: float | None,
) -> tuple[KafkaSettings, Clusters]:
    """The emitter's settings and clusters: ``clusters`` if given; else ``WK_KAFKA_CLUSTERS``
    when ``settings`` is not given or names one of them; else ``settings``' cluster alone.
    The delays default to ``WK_FAILOVER_AFTER_S`` / ``WK_FAILBACK_AFTER_S``."""
    env = Clusters.from_env(None if settings is None else settings.bootstrap_servers)
    settings = settings or KafkaSettings.from_env()
    if clusters is not None:
        listed = list(clusters)
        for i, item in enumerate(listed, 1):
            if ";" in item or not item.strip():
                raise ConfigError(f"clusters: cluster {i} of {len(listed)} is empty or has a ;")
        bootstraps = parse_clusters(";".join(listed), "clusters")
    elif CLUSTERS_VAR in os.environ and settings.bootstrap_servers not in env.bootstraps:
        bootstraps = (settings.bootstrap_servers,)
    else:
        bootstraps = env.bootstraps
    return settings, Clusters(
        bootstraps,
        env.failover_after_s if failover_after_s is None else failover_after_s,
        env.failback_after_s if failback_after_s is None else failback_after_s,
    )


def on_cluster(settings: KafkaSettings, bootstrap: str) -> KafkaSettings:
    """``settings`` (SASL/SSL included) pointed at another cluster."""
    return dataclasses.replace(settings, bootstrap_servers=bootstrap)


def new_producer(
    settings: KafkaSettings,
    client_id: str,
    window: int,
    on_delivery: Callable[[Any, Any], None],
    error_cb: Callable[[Any], None],
    extra: Mapping[str, Any] | None,
) -> Producer:
    config = settings.confluent(
        **{
            "client.id": client_id,
            # librdkafka defaults to idempotence off; monitoring events must not duplicate
            # on a retried batch any more than they may be lost.
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": window,
            "message.timeout.ms": 120_000,
            # Only failures call back into Python: successes cost nothing per event.
            "delivery.report.only.error": True,
            "on_delivery": on_delivery,
            "error_cb": error_cb,
            "logger": librdkafka_log,
        }
    )
    config.update(extra or {})
    return Producer(config)


def purge(producer: Producer, settle_s: float) -> None:
    """Take back all ``producer`` holds; the events come back through its delivery
    reports as ``_PURGE_QUEUE`` / ``_PURGE_INFLIGHT`` failures within ``settle_s``."""
    producer.purge(in_queue=True, in_flight=True, blocking=False)
    settle = time.monotonic() + settle_s
    while len(producer) and time.monotonic() < settle:
        producer.poll(0.01)
    producer.poll(0)
