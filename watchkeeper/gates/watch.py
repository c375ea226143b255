"""``gate watch``: after a deploy, fail on the first FIRING alert for the model version.

Reads the ``alerts`` topic from the end offsets it has when the gate starts (every
partition; committed records only, no consumer group), for the given time. An alert
counts when its labels have ``model`` and ``version`` equal to the gate's (and every
``--label k=v`` given); a RESOLVED one, or another model's, does not fail the gate. The
gate ends at the first matching FIRING alert, or passes when the time is up.

>>> matches({"model": "fraud", "version": "2", "alertname": "HighLatency"},
...         {"model": "fraud", "version": "2"})
True
>>> matches({"model": "fraud", "version": "1"}, {"model": "fraud", "version": "2"})
False

Recorded: ``metrics`` ``alerts_seen`` (any model), ``alerts_matching`` (FIRING or
RESOLVED) and ``watched_s``; ``details`` the firing alert's name, labels and summary.
"""

from __future__ import annotations

import logging
import time
import uuid

from ..settings import KafkaSettings
from .report import GateResult


def matches(labels: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def watch(
    kafka: KafkaSettings,
    topic: str,
    model: str,
    version: str,
    seconds: float,
    labels: dict[str, str] | None = None,
    log=print,
) -> GateResult:
    from confluent_kafka import Consumer, KafkaError
    from confluent_kafka import TopicPartition as TP

    from ..codec import Codec, EventError
    from ..runtime import compacted

    wanted = {**(labels or {}), "model": model, "version": version}
    codec = Codec()
    consumer = Consumer(
        kafka.confluent(
            **{
                "group.id": f"wk-gate-watch-{uuid.uuid4().hex}",  # nothing is committed
                "enable.auto.commit": False,
                # Past a partition's start (retention): from the oldest left, never skip.
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "logger": logging.getLogger("librdkafka"),
            }
        )
    )
    result = GateResult("watch", model, version)
    seen = matching = 0
    firing = None
    started = time.monotonic()
    try:
        every = compacted.partitions(consumer, topic, 30.0)
        ends = compacted.ends(consumer, topic, every, 30.0)
        # "From now" is the ends as they are now: an alert produced after this line counts.
        consumer.assign([TP(topic, p, ends.get(p, 0)) for p in every])
        log(f"watching {topic} for {model} {version} for {seconds:g} s", flush=True)
        deadline = time.monotonic() + seconds
        while firing is None and (left := deadline - time.monotonic()) > 0:
            for message in consumer.consume(500, min(left, 0.5)):
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        logging.getLogger(__name__).warning("alerts read: %s", error)
                    continue
                try:
                    alert = codec.decode_as("Alert", message.value())
                except EventError:
                    continue  # not an alert we can read: the DLQ's business, not this gate's
                seen += 1
                if not matches(alert["labels"], wanted):
                    continue
                matching += 1
                if alert["status"] == "FIRING":
                    firing = alert
                    break
    finally:
        consumer.close()
    result.metrics = {"alerts_seen": float(seen), "alerts_matching": float(matching),
                      "watched_s": round(time.monotonic() - started, 3)}  # fmt: skip
    if firing is None:
        result.check("no firing alert", "none", True,
                     f"{seen} alerts seen, {matching} for this version (resolved)")  # fmt: skip
    else:
        name = firing["labels"].get("alertname", "?")
        summary = firing["annotations"].get("summary", "")
        shown = ",".join(f"{k}={v}" for k, v in sorted(firing["labels"].items()))
        note = f"{shown}" + (f": {summary}" if summary else "")
        result.check("no firing alert", name, False, note)
    return result
