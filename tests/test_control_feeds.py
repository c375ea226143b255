"""A control-plane feed on a real broker: records become commands, bad ones dead letters,
and a feed whose thread ends says so to /healthz instead of leaving the service idle."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from watchkeeper.control import Answer, Command
from watchkeeper.control.feeds import FeedError, TopicFeed
from watchkeeper.runtime import compacted
from watchkeeper.settings import ServiceSettings

pytestmark = pytest.mark.kafka


def settings(kafka_settings, prefix) -> ServiceSettings:
    return ServiceSettings("registry", kafka_settings, prefix=prefix, group=prefix + "registry")


def produce(kafka_settings, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": kafka_settings.bootstrap_servers})
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(10) == 0


def wait_until(check, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)  # polling the feed's thread


def handle(message) -> list[Command]:
    value = message.value()
    if value == b"bad":
        raise FeedError("not a command")
    return [Command("x", {"v": value.decode()}, "feed", f"k-{message.offset()}")]


def test_records_become_commands_and_bad_ones_dead_letters(kafka_settings, prefix) -> None:
    produce(kafka_settings, prefix + "lineage", [b"a", b"bad", b"b"])
    seen: list[str] = []
    feed = TopicFeed(settings(kafka_settings, prefix), "lineage", "t", handle)
    stop = False
    feed.start(lambda c: seen.append(c.body["v"]) or Answer(200, {}), lambda: stop)
    try:
        wait_until(lambda: len(seen) == 2 and feed.dead == 1)
        assert feed.problem() is None
    finally:
        stop = True
        feed.join(10)
    assert sorted(seen) == ["a", "b"]  # lineage has 3 partitions: no order across them
    [letter] = list(compacted.read(kafka_settings, prefix + "dlq", 30))
    assert letter.value == b"bad"


def test_a_feed_that_ends_is_reported(kafka_settings, prefix) -> None:
    produce(kafka_settings, prefix + "lineage", [b"a"])

    def submit(command: Command) -> Answer:
        raise TimeoutError("the writer never answered")

    feed = TopicFeed(settings(kafka_settings, prefix), "lineage", "t", handle)
    feed.start(submit, lambda: False)
    wait_until(lambda: feed.problem() is not None)
    assert feed.problem() == (
        f"the {prefix}lineage feed stopped: TimeoutError: the writer never answered"
    )
