"""Topics as code, applied idempotently to a real broker."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from watchkeeper import topic_admin, topics
from watchkeeper.cli import main as cli_main
from watchkeeper.topics import TOPICS, TopicSpec

pytestmark = pytest.mark.kafka


def describe(settings, name: str) -> dict[str, str]:
    admin = AdminClient(settings.confluent())
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    result = admin.describe_configs([resource])[resource].result(10)
    return {k: v.value for k, v in result.items()}


def partitions(settings, name: str) -> int:
    admin = AdminClient(settings.confluent())
    return len(admin.list_topics(name, timeout=10).topics[name].partitions)


@pytest.fixture
def bare_prefix(kafka_settings):
    """A prefix with no topics yet (the ``prefix`` fixture creates them); removed after."""
    value = f"a{uuid.uuid4().hex[:8]}."
    yield value
    topic_admin.delete_prefixed(kafka_settings, value)


def test_apply_creates_then_changes_nothing(kafka_settings, bare_prefix) -> None:
    prefix = bare_prefix
    first = topic_admin.apply(kafka_settings, prefix=prefix)
    assert sorted(c.topic for c in first if c.action == "created") == sorted(
        prefix + t.name for t in TOPICS
    )
    second = topic_admin.apply(kafka_settings, prefix=prefix)
    assert {c.action for c in second} == {"unchanged"}
    assert (
        partitions(kafka_settings, prefix + "predictions") == topics.spec("predictions").partitions
    )
    assert describe(kafka_settings, prefix + "feedback")["retention.ms"] == str(30 * topics.DAY_MS)


def test_apply_repairs_drift_and_grows_partitions(kafka_settings, bare_prefix) -> None:
    prefix = bare_prefix
    state = TopicSpec("state-log", partitions=1, compacted=True)
    topic_admin.apply(kafka_settings, [state], prefix=prefix)
    assert describe(kafka_settings, prefix + "state-log")["cleanup.policy"] == "compact"

    grown = TopicSpec("state-log", partitions=3, compacted=True, retention_ms=-1)
    changes = {c.action: c for c in topic_admin.apply(kafka_settings, [grown], prefix=prefix)}
    assert changes["partitions"].detail == "1 -> 3"
    assert changes["config"].detail == "retention.ms=-1"
    assert partitions(kafka_settings, prefix + "state-log") == 3

    shrunk = TopicSpec("state-log", partitions=2, compacted=True, retention_ms=-1)
    changes = topic_admin.apply(kafka_settings, [shrunk], prefix=prefix)
    assert [c.action for c in changes] == ["warning", "unchanged"]
    assert partitions(kafka_settings, prefix + "state-log") == 3  # never shrunk


def test_cli_apply_uses_the_environment(kafka_bootstrap, bare_prefix, monkeypatch, capsys) -> None:
    prefix = bare_prefix
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("WK_TOPIC_PREFIX", prefix)
    assert cli_main(["topics", "apply"]) == 0
    assert f"created    {prefix}predictions" in capsys.readouterr().out
    assert cli_main(["topics", "apply"]) == 0
    assert "created" not in capsys.readouterr().out


def test_delete_prefixed_removes_that_prefix_and_nothing_else(kafka_settings) -> None:
    mine, other = f"d{uuid.uuid4().hex[:8]}.", f"e{uuid.uuid4().hex[:8]}."
    topic_admin.apply(kafka_settings, prefix=mine)
    topic_admin.apply(kafka_settings, prefix=other)
    removed = topic_admin.delete_prefixed(kafka_settings, mine)
    assert sorted(removed) == sorted(mine + spec.name for spec in TOPICS)
    admin = AdminClient(kafka_settings.confluent())
    deadline = time.monotonic() + 30
    while any(t.startswith(mine) for t in admin.list_topics(timeout=10).topics):
        assert time.monotonic() < deadline, "deleted topics still listed after 30 s"
        time.sleep(0.2)
    assert sum(t.startswith(other) for t in admin.list_topics(timeout=10).topics) == len(TOPICS)
    topic_admin.delete_prefixed(kafka_settings, other)
    with pytest.raises(ValueError, match="every topic"):
        topic_admin.delete_prefixed(kafka_settings, "")
