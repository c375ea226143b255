"""Metrics every service exports under the same names, labelled by service and topic.

``wk_build_info`` says what runs (set once by the HTTP server, see ``build_info``), and
``wk_consumer_lag_records`` how much waits on each partition a consumer owns: the gauges of
a partition the instance lost are removed (``forget_lag``), so they do not export a stale
value for ever.

>>> labels = build_info("doc")
>>> sorted(labels)
['confluent_kafka', 'librdkafka', 'python', 'service', 'version']
>>> BUILD_INFO.labels(**labels)._value.get()
1.0
>>> set_lag("doc-group", "doc-topic", 0, 42); set_lag("doc-group", "doc-topic", 1, 0)
>>> CONSUMER_LAG.labels("doc-group", "doc-topic", "0")._value.get()
42.0
>>> forget_lag("doc-group", [("doc-topic", 0), ("doc-topic", 1)])
>>> [s for s in CONSUMER_LAG.collect()[0].samples if s.labels["group"] == "doc-group"]
[]
>>> set_lag("doc-group", "doc-topic", 2, 7); forget(CONSUMER_LAG, "doc-group", "doc-topic", 2)
>>> forget(CONSUMER_LAG, "doc-group", "doc-topic", 2)  # gone already: no error
>>> [s for s in CONSUMER_LAG.collect()[0].samples if s.labels["group"] == "doc-group"]
[]
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from contextlib import suppress

from prometheus_client import Counter, Gauge

CONSUMED = Counter("wk_messages_consumed_total", "Messages read from Kafka.", ["service", "topic"])
PROCESSED = Counter(
    "wk_events_processed_total", "Events decoded and handled.", ["service", "topic"]
)
DEAD_LETTERS = Counter(
    "wk_dead_letters_total",
    "Messages sent to the dead-letter topic instead of being processed.",
    ["service", "topic", "reason"],
)
REDELIVERED = Counter(
    "wk_messages_redelivered_total",
    "Messages this process had already handled, read again after a broker or group "
    "hiccup rewound the consumer, and skipped.",
    ["service", "topic"],
)
BUILD_INFO = Gauge(
    "wk_build_info",
    "Always 1: the versions this service runs with, in its labels.",
    ["version", "python", "confluent_kafka", "librdkafka", "service"],
)
CONSUMER_LAG = Gauge(
    "wk_consumer_lag_records",
    "High watermark minus the consumer's position, per owned partition (the watermark "
    "the consumer last fetched: no request to the broker).",
    ["group", "topic", "partition"],
)


def build_info(service: str) -> dict[str, str]:
    """Set ``wk_build_info`` for ``service`` to 1; returns its labels."""
    # Here, not at the top: tasks import this module and stay Kafka-free.
    import confluent_kafka

    from .. import __version__

    labels = {
        "version": __version__,
        "python": platform.python_version(),
        "confluent_kafka": confluent_kafka.version()[0],
        "librdkafka": confluent_kafka.libversion()[0],
        "service": service,
    }
    BUILD_INFO.labels(**labels).set(1)
    return labels


def set_lag(group: str, topic: str, partition: int, lag: int) -> None:
    CONSUMER_LAG.labels(group, topic, str(partition)).set(lag)


def forget(metric: Gauge, *labels: object) -> None:
    """Remove one series of ``metric`` (a partition's, when the partition was revoked); a
    series never set is no error."""
    with suppress(KeyError):
        metric.remove(*map(str, labels))


def forget_lag(group: str, partitions: Iterable[tuple[str, int]]) -> None:
    """Remove the lag series of partitions this instance no longer owns."""
    for topic, partition in partitions:
        with suppress(KeyError):  # never set: nothing to remove
            CONSUMER_LAG.remove(group, topic, str(partition))
