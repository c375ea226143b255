"""Topics as code: one declarative list, applied idempotently with the AdminClient.

>>> [t.name for t in TOPICS][:3]
['predictions', 'telemetry', 'feedback']
>>> TopicSpec("notification-log", partitions=1, compacted=True).configs()
{'cleanup.policy': 'compact'}
>>> full_name("predictions", prefix="team-a.")
'team-a.predictions'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from .settings import KafkaSettings, env_int, topic_prefix

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its logical name (without prefix), size, retention and what it carries."""

    name: str
    partitions: int
    retention_ms: int | None = None  # None: the broker's default; -1: keep forever
    compacted: bool = False  # a state log: the newest record per key is what counts
    schema: str | None = None  # the Avro record type its values carry
    doc: str = ""

    def configs(self) -> dict[str, str]:
        configs: dict[str, str] = {}
        if self.compacted:
            # A state log with a finite retention also forgets keys not updated for that long.
            timed = self.retention_ms is not None and self.retention_ms >= 0
            configs["cleanup.policy"] = "compact,delete" if timed else "compact"
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        return configs


# Predictions, telemetry and feedback carry the same key (the model name) and the same
# partition count: a prediction, its host's telemetry and its late label meet in one
# consumer without a repartition, and a service's state topic mirrors their partitions.
INPUT_PARTITIONS = 6

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        "predictions",
        INPUT_PARTITIONS,
        7 * DAY_MS,
        schema="PredictionEvent",
        doc="One event per prediction served.",
    ),
    TopicSpec(
        "telemetry",
        INPUT_PARTITIONS,
        3 * DAY_MS,
        schema="TelemetryEvent",
        doc="Resource usage per host/pod and model.",
    ),
    TopicSpec(
        "feedback",
        INPUT_PARTITIONS,
        30 * DAY_MS,
        schema="FeedbackEvent",
        doc="Ground truth for earlier predictions, minutes to days later.",
    ),
    TopicSpec(
        "alerts",
        3,
        # Compacted, not deleted: an alert firing for longer than any retention must still
        # be there when the router rebuilds its state after a restart.
        -1,
        compacted=True,
        schema="Alert",
        doc="Alert state changes, keyed by fingerprint. Compaction keeps each alert's latest "
        "state, so a reader can rebuild every open alert by reading from the start.",
    ),
    TopicSpec(
        "retrain-requests",
        1,
        90 * DAY_MS,
        schema="RetrainRequest",
        doc="Requests to retrain a model version, with evidence and a dedup key.",
    ),
    TopicSpec(
        "windows",
        3,
        7 * DAY_MS,
        schema="WindowAggregate",
        doc="Per-window aggregates: counts, latency quantiles, errors, cost.",
    ),
    TopicSpec(
        "dlq",
        1,
        30 * DAY_MS,
        doc="Messages a service could not decode or validate; the reason is in headers.",
    ),
    TopicSpec(
        "drift-reports",
        3,
        7 * DAY_MS,
        schema="DriftReport",
        doc="One drift evaluation per model version (or segment) and window.",
    ),
    TopicSpec(
        "drift-references",
        1,
        -1,
        compacted=True,
        doc="Reference profiles per model version (JSON), read whole by every drift worker.",
    ),
    TopicSpec(
        "quality-reports",
        3,
        7 * DAY_MS,
        schema="QualityReport",
        doc="One data-quality evaluation per model and closed window (services/quality).",
    ),
    TopicSpec(
        "gates",
        1,
        # Compacted and kept: a pipeline asking whether it may run needs the latest state
        # of its gate however long ago it changed.
        -1,
        compacted=True,
        schema="GateState",
        doc="Quality gates, keyed by gate name: blocked or unblocked, and why.",
    ),
    TopicSpec(
        "fairness-reports",
        3,
        7 * DAY_MS,
        schema="FairnessReport",
        doc="Fairness per model version, protected attribute and closed window.",
    ),
    TopicSpec(
        "cost-spend",
        INPUT_PARTITIONS,
        7 * DAY_MS,
        schema="CostSpend",
        doc="Spend per scope and window, priced by cost workers; cost sums it per scope "
        "(keyed by scope, so one worker owns each budget however many models feed it).",
    ),
    TopicSpec(
        "cost-aggregates",
        3,
        # Compacted: the newest running total per scope and period is the figure; old
        # windows and days are deleted after 40 days.
        40 * DAY_MS,
        compacted=True,
        schema="CostAggregate",
        doc="Spend per scope per window, day and month, with the month-over-month trend.",
    ),
    TopicSpec(
        "cost-advice",
        1,
        30 * DAY_MS,
        schema="CostAdvice",
        doc="Savings the stream shows: scale to zero, batch, result cache, cheaper version.",
    ),
    TopicSpec(
        "cost-quotas",
        1,
        -1,
        compacted=True,
        schema="QuotaState",
        doc="Budget hard caps for inference gateways: EXCEEDED or OK per budget instance.",
    ),
    # State logs, each written by one service only.
    TopicSpec(
        "slo-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="slo's window state: its changelog, one partition per input partition.",
    ),
    TopicSpec(
        "drift-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="drift's changelog: pending predictions, verdicts, performance windows.",
    ),
    TopicSpec(
        "quality-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="quality's changelog: open windows, gate and silence states, recent event ids.",
    ),
    TopicSpec(
        "fairness-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="fairness's changelog: open windows, alert states, predictions awaiting labels.",
    ),
    TopicSpec(
        "cost-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="cost's changelog: fleets, advice days, scope totals and budget states.",
    ),
    TopicSpec(
        "notification-log",
        1,
        compacted=True,
        doc="router's notification log: what was delivered to which receiver, per group.",
    ),
    TopicSpec(
        "silences",
        1,
        compacted=True,
        doc="router's silences (JSON, key: silence id); expired ones are tombstoned later.",
    ),
    TopicSpec(
        "escalations",
        1,
        compacted=True,
        doc="router's open escalations (JSON, key: group key): the stage reached, acks.",
    ),
    TopicSpec(
        "incidents",
        1,
        compacted=True,
        doc="router's incidents (JSON, key: incident id), with their timelines.",
    ),
)


def full_name(name: str, prefix: str | None = None) -> str:
    return (topic_prefix() if prefix is None else prefix) + name


def spec(name: str) -> TopicSpec:
    for topic in TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"no topic {name!r} in watchkeeper.topics.TOPICS")


@dataclass(frozen=True)
class Change:
    topic: str
    action: str  # created | partitions | config | unchanged | warning
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action:<10} {self.topic}" + (f"  ({self.detail})" if self.detail else "")


def _replication_factor(admin: AdminClient, timeout: float) -> int:
    wanted = env_int("WK_REPLICATION_FACTOR", 3)
    brokers = len(admin.list_topics(timeout=timeout).brokers)
    return max(1, min(wanted, brokers))


def replication_factor(settings: KafkaSettings | None = None, timeout: float = 10.0) -> int:
    """``WK_REPLICATION_FACTOR`` (default 3), never more than the cluster has brokers."""
    admin = AdminClient((settings or KafkaSettings.from_env()).confluent())
    return _replication_factor(admin, timeout)


def apply(
    settings: KafkaSettings | None = None,
    specs: Iterable[TopicSpec] = TOPICS,
    prefix: str | None = None,
    timeout: float = 30.0,
) -> list[Change]:
    """Create missing topics, grow partitions, align configs. Safe to run any number of times.

    Partitions never shrink (Kafka cannot); a topic with more partitions than declared is
    reported as a warning and left alone.
    """
    settings = settings or KafkaSettings.from_env()
    admin = AdminClient(settings.confluent())
    specs = list(specs)
    names = {full_name(s.name, prefix): s for s in specs}
    metadata = admin.list_topics(timeout=timeout)
    existing = metadata.topics
    changes: list[Change] = []

    missing = [n for n in names if n not in existing]
    if missing:
        rf = _replication_factor(admin, timeout)
        futures = admin.create_topics(
            [NewTopic(n, names[n].partitions, rf, config=names[n].configs()) for n in missing],
            operation_timeout=timeout,
        )
        for topic, future in futures.items():
            try:
                future.result(timeout)
                changes.append(Change(topic, "created", f"{names[topic].partitions} partitions"))
            except KafkaException as exc:
                # Another service created it between our list and our create: that is fine.
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise
                changes.append(Change(topic, "unchanged", "exists already"))
        _wait_visible(admin, missing, timeout)

    present = [n for n in names if n in existing]
    changes += _grow_partitions(admin, present, names, existing, timeout)
    changes += _align_configs(admin, present, names, timeout)
    for change in changes:
        log.info("topic %s", change, extra={"topic": change.topic, "action": change.action})
    return changes


def delete_prefixed(settings: KafkaSettings, prefix: str, timeout: float = 30.0) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (a test's or a benchmark's own,
    services' internal topics included); return their names.

    A long-lived development broker otherwise collects thousands of partitions from test
    and benchmark runs, until its heap runs out.
    """
    if not prefix:
        raise ValueError("an empty prefix would name every topic of the cluster")
    admin = AdminClient(settings.confluent())
    names = sorted(t for t in admin.list_topics(timeout=timeout).topics if t.startswith(prefix))
    if names:
        for future in admin.delete_topics(names, operation_timeout=timeout).values():
            future.result(timeout)
    return names


def _wait_visible(admin: AdminClient, names: Sequence[str], timeout: float) -> None:
    """Return once every topic in ``names`` shows in the cluster's metadata with its leaders.

    A create returns when the controller has it; brokers learn of it a moment later, and a
    consumer or describe in that moment gets UNKNOWN_TOPIC_OR_PART.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout).topics
        if all(
            name in topics
            and topics[name].error is None
            and all(p.leader >= 0 for p in topics[name].partitions.values())
            for name in names
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topics not visible after {timeout:.0f} s: {', '.join(names)}")


def _grow_partitions(
    admin: AdminClient,
    present: Sequence[str],
    names: dict[str, TopicSpec],
    existing: dict[str, Any],
    timeout: float,
) -> list[Change]:
    changes = []
    grow = []
    for topic in present:
        have, want = len(existing[topic].partitions), names[topic].partitions
        if have < want:
            grow.append(NewPartitions(topic, want))
            changes.append(Change(topic, "partitions", f"{have} -> {want}"))
        elif have > want:
            changes.append(Change(topic, "warning", f"has {have} partitions, declared {want}"))
    if grow:
        for future in admin.create_partitions(grow, operation_timeout=timeout).values():
            future.result(timeout)
    return changes


def _align_configs(
    admin: AdminClient, present: Sequence[str], names: dict[str, TopicSpec], timeout: float
) -> list[Change]:
    if not present:
        return []
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in present]
    described = admin.describe_configs(resources, request_timeout=timeout)
    changes = []
    for resource, future in described.items():
        current = future.result(timeout)
        wanted = names[resource.name].configs()
        differing = {k: v for k, v in wanted.items() if current[k].value != v}
        if not differing:
            changes.append(Change(resource.name, "unchanged"))
            continue
        entries = [
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in differing.items()
        ]
        target = ConfigResource(
            ConfigResource.Type.TOPIC, resource.name, incremental_configs=entries
        )
        for result in admin.incremental_alter_configs([target]).values():
            result.result(timeout)
        detail = ", ".join(f"{k}={v}" for k, v in sorted(differing.items()))
        changes.append(Change(resource.name, "config", detail))
    return changes
