"""Applying the declared topics (``watchkeeper.topics.TOPICS``) with the AdminClient:
create what is missing, grow partitions, align configs; idempotent."""

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

from .settings import KafkaSettings, env_int
from .topics import TOPICS, TopicSpec, full_name

log = logging.getLogger(__name__)


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
