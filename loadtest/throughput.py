"""A service's throughput beside the ceiling, measured on the same pre-loaded topic.

The ceiling is a bare confluent-kafka batch consumer that reads and decodes, nothing else:
no Python service on this stack can be faster, so ``service / ceiling`` says how much of
the possible a service keeps, whatever else the machine is doing at the time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer

from watchkeeper import topic_admin
from watchkeeper.codec import Codec
from watchkeeper.devstack import ServiceProcess
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from .harness import table

# The workload every service's throughput is measured on: this many predictions, each
# with 20 numeric and 5 categorical features (the benchmarks vary the rest).
EVENTS = 150_000
FEATURES = {f"f{i:02d}": i * 1.5 for i in range(20)}
CATEGORIES = {f"c{i}": f"value-{i}" for i in range(5)}


_made: list[str] = []  # prefixes of this run, for remove_topics()


def fresh_prefix(settings: KafkaSettings) -> str:
    """A topic prefix of its own for one measurement, with every topic created."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topic_admin.apply(settings, prefix=prefix)
    _made.append(prefix)
    return prefix


def remove_topics(settings: KafkaSettings) -> int:
    """Delete the topics of every prefix made so far; return how many went."""
    removed = 0
    while _made:
        removed += len(topic_admin.delete_prefixed(settings, _made.pop()))
    return removed


@contextmanager
def loading(settings: KafkaSettings, prefix: str, name: str) -> Iterator[Emitter]:
    """An emitter to pre-load a topic with; leaving the block waits until every event is
    in Kafka (a benchmark that lost some would measure nothing)."""
    emitter = Emitter(settings, prefix=prefix, client_id=f"bench-{name}-load", buffer_size=400_000)
    yield emitter
    assert emitter.close(timeout=120) == 0, "the benchmark lost events while loading"


def measure(
    settings: KafkaSettings, prefix: str, module: str, env: dict[str, str], log: Path
) -> dict[str, float]:
    """The ceiling, then ``python -m <module>``, on the pre-loaded predictions of ``prefix``."""
    topic = prefix + "predictions"
    top = ceiling(settings, topic, EVENTS)
    env = {"KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers, "WK_TOPIC_PREFIX": prefix, **env}
    ours = service_rate(module, env, log, topic, EVENTS)
    return {"events_per_s": ours, "ceiling_events_per_s": top, "ratio": ours / top}


def rate_table(title: str, module: str, figures: dict[str, float]) -> str:
    return table(
        title,
        ["reader", "events/s", "x ceiling"],
        [
            ["decode-only batch consumer (ceiling)", figures["ceiling_events_per_s"], 1.0],
            [module, figures["events_per_s"], figures["ratio"]],
        ],
    )


def ceiling(settings: KafkaSettings, topic: str, events: int) -> float:
    """Events/s of a batch consumer that reads and decodes ``events`` PredictionEvents."""
    codec = Codec()
    consumer = Consumer(
        settings.confluent(
            **{
                "group.id": f"bench-ceiling-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
    )
    consumer.subscribe([topic])
    seen, started = 0, None
    while seen < events:
        messages = consumer.consume(2000, 1.0)
        if messages and started is None:
            started = time.perf_counter()
        for message in messages:
            if message.error() is None:
                codec.decode_as("PredictionEvent", message.value())
                seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return seen / elapsed


def service_rate(module: str, env: dict[str, str], log: Path, topic: str, events: int) -> float:
    """Start ``python -m <module>`` on a pre-loaded ``topic``; events/s from its first
    processed event to its ``events``-th, read from its own /metrics."""
    service = ServiceProcess(module, env, log)
    name = module.rsplit(".", 1)[-1]
    try:
        service.wait_healthy()
        started = None
        while True:
            done = service.metric("wk_events_processed_total", service=name, topic=topic)
            now = time.perf_counter()
            if done and started is None:
                started, first = now, done
            if done >= events:
                return (done - first) / (now - started)
            # A scrape renders every series while holding the GIL: scraping often would slow
            # what is measured. Poll rarely, and often only near the end, where the
            # overshoot past the last event would count as idle time.
            pause = 0.25
            if started is not None and done > first:
                left = (events - done) / ((done - first) / (now - started))
                pause = min(pause, max(0.01, left / 2))
            time.sleep(pause)
    finally:
        service.stop()
