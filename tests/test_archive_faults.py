"""The archive under faults, on a real broker and real files: kill -9 mid-stream several
times (afterwards exactly the topics' records, none twice), and a tier that refuses writes
(consumption stops, nothing committed, the alert fires; fixed, it resumes, nothing lost)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from watchkeeper.codec import Codec
from watchkeeper.devstack import ServiceProcess
from watchkeeper.devstack._offsets import read_to_end
from watchkeeper.tiering.layout import HOUR_MS, bucket_of
from watchkeeper.tiering.store import Store

from .archive_support import (
    DAY_MS,
    assert_exact,
    committed_lag,
    produce,
    wait_archived,
)
from .helpers import wait_for

pytestmark = pytest.mark.kafka

TOPICS = ("predictions", "feedback", "telemetry")


def env(root: Path, **extra: str) -> dict[str, str]:
    return {
        "WK_ARCHIVE_ROOT": str(root),
        "WK_ARCHIVE_FLUSH_RECORDS": "100",
        "WK_ARCHIVE_FLUSH_S": "0.3",
        "WK_INSTANCE_ID": "a",  # static membership: a restart takes its partitions back at once
        **extra,
    }


def test_kill_9_mid_stream_several_times_leaves_each_record_once(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    root = tmp_path / "tiers"
    now = int(time.time() * 1000)
    for topic in TOPICS:
        produce(kafka_settings, prefix, topic, 1500, now)
        produce(kafka_settings, prefix, topic, 500, now - HOUR_MS)  # two buckets per flush
    store = Store.open(str(root))
    kills = 0
    for round_ in range(3):
        service = start_service("services.archive", prefix, **env(root))
        parts_before = len(store.parts())
        wait_for(lambda n=parts_before: len(store.parts()) >= n + 5, 60, "some flushes")
        service.kill()
        kills += 1
        for topic in TOPICS:  # more arrives while it is down
            produce(kafka_settings, prefix, topic, 300, now + round_)
    service = start_service("services.archive", prefix, **env(root))
    wait_archived(kafka_settings, prefix)
    counts = {t: assert_exact(kafka_settings, prefix, str(root), t) for t in TOPICS}
    assert kills == 3
    assert counts == {t: 2000 + 3 * 300 for t in TOPICS}
    assert service.stop() == 0


def alerts(kafka_settings, prefix: str) -> list[tuple[str, str]]:
    codec = Codec()
    found = []
    for message in read_to_end(kafka_settings, prefix + "alerts"):
        record = codec.decode_as("Alert", message.value())
        if record["labels"].get("alertname") == "ArchiveWriteFailing":
            found.append(record["status"])
    return found


def test_a_tier_that_refuses_writes_stops_consumption_alerts_and_loses_nothing(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    root = tmp_path / "tiers"
    stamp = (int(time.time() * 1000) // DAY_MS - 2) * DAY_MS + 5 * HOUR_MS + 1800_000
    date, hour = bucket_of(stamp)
    # A file where the hour's directory must go: every write there fails with ENOTDIR, as
    # a read-only or full disk would (chmod does not stop root, whom the tests run as).
    blocker = root / "cold" / "topic=predictions" / f"date={date}" / f"hour={hour:02d}"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a directory")
    service = start_service(
        "services.archive",
        prefix,
        **env(root, WK_ARCHIVE_ALERT_AFTER_S="1", WK_ARCHIVE_RETRY_MAX_S="0.5",
              WK_ARCHIVE_MAINTENANCE_S="1"),
    )  # fmt: skip
    produce(kafka_settings, prefix, "predictions", 200, stamp)
    wait_for(lambda: "FIRING" in alerts(kafka_settings, prefix), 60, "ArchiveWriteFailing")
    status, body = service.health()
    assert status == 503 and "failing" in body["problems"][0], body
    assert service.metric("wk_archive_write_failures_total", step="flush") >= 1
    assert service.metric("wk_archive_write_ok") == 0
    group = [prefix + "predictions"]
    assert committed_lag(kafka_settings, prefix + "archive", group) == 200  # nothing committed
    now = int(time.time() * 1000)
    produce(kafka_settings, prefix, "feedback", 50, now)  # consumption stopped: lag grows
    failures = service.metric("wk_archive_write_failures_total", step="flush")
    wait_for(
        lambda: service.metric("wk_archive_write_failures_total", step="flush") > failures + 1,
        30,
        "more retries",
    )
    assert committed_lag(kafka_settings, prefix + "archive", [prefix + "feedback"]) == 50
    assert Store.open(str(root)).parts() == []

    blocker.unlink()  # the disk is back
    wait_archived(kafka_settings, prefix)
    assert assert_exact(kafka_settings, prefix, str(root), "predictions") == 200
    assert assert_exact(kafka_settings, prefix, str(root), "feedback") == 50
    wait_for(lambda: alerts(kafka_settings, prefix)[-1] == "RESOLVED", 30, "the alert resolved")
    assert alerts(kafka_settings, prefix).count("FIRING") == 1
    wait_for(lambda: service.health()[0] == 200, 30, "healthy again")
    assert service.metric("wk_archive_write_ok") == 1
    assert service.stop() == 0


def test_a_flush_killed_before_its_commit_is_redone_once(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    """What kill -9 between a flush's write and its commit leaves, made on purpose: a part
    of records past the committed offset (here only half of them). The next start deletes
    it and writes those records again, once."""
    from confluent_kafka import Consumer, TopicPartition

    from watchkeeper.tiering.columns import Columns, Coordinates
    from watchkeeper.tiering.layout import cold_path

    root = tmp_path / "tiers"
    now = int(time.time() * 1000)
    produce(kafka_settings, prefix, "feedback", 120, now)
    service = start_service("services.archive", prefix, **env(root))
    wait_archived(kafka_settings, prefix)
    assert service.stop() == 0
    produce(kafka_settings, prefix, "feedback", 120, now)
    codec, topic = Codec(), prefix + "feedback"
    reader = Consumer(kafka_settings.confluent(**{"group.id": prefix + "archive"}))
    committed = reader.committed([TopicPartition(topic, 0)], timeout=30)[0].offset
    reader.close()
    fresh = [m for m in read_to_end(kafka_settings, topic) if m.partition() == 0]
    fresh = [m for m in fresh if m.offset() >= committed][: max(1, len(fresh) // 4)]
    assert fresh, "partition 0 got no new records"
    columns = Columns.of(codec, "FeedbackEvent")
    coords = [Coordinates(topic, 0, m.offset(), m.timestamp()[1], m.key()) for m in fresh]
    table = columns.table(coords, [codec.decode_as("FeedbackEvent", m.value()) for m in fresh])
    stale = cold_path("feedback", now, 0, fresh[0].offset(), fresh[-1].offset())
    Store.open(str(root)).write(stale, table, 3)

    service = start_service("services.archive", prefix, **env(root))
    wait_archived(kafka_settings, prefix)
    assert service.metric("wk_archive_recovered_parts_total") == 1
    assert assert_exact(kafka_settings, prefix, str(root), "feedback") == 240
    assert service.stop() == 0


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 512 KiB tmpfs: a disk that really fills up (ENOSPC). Skipped, saying why, where
    this container may not mount one."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): no full-disk test")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def test_a_full_disk_stops_consumption_and_loses_nothing(
    kafka_settings, prefix, start_service, tiny_disk
) -> None:
    root = tiny_disk / "tiers"
    filler = tiny_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk to the last block
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    service = start_service(
        "services.archive", prefix,
        **env(root, WK_ARCHIVE_ALERT_AFTER_S="1", WK_ARCHIVE_RETRY_MAX_S="0.5"),
    )  # fmt: skip
    now = int(time.time() * 1000)
    produce(kafka_settings, prefix, "telemetry", 300, now)
    wait_for(lambda: "FIRING" in alerts(kafka_settings, prefix), 60, "ArchiveWriteFailing")
    assert "No space left" in service.health()[1]["problems"][0]
    assert committed_lag(kafka_settings, prefix + "archive", [prefix + "telemetry"]) == 300
    filler.unlink()  # space again
    wait_archived(kafka_settings, prefix)
    assert assert_exact(kafka_settings, prefix, str(root), "telemetry") == 300
    wait_for(lambda: alerts(kafka_settings, prefix)[-1] == "RESOLVED", 30, "the alert resolved")
    assert service.stop() == 0


def test_two_instances_split_the_partitions_and_hand_over_after_a_kill(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    root = tmp_path / "tiers"
    quick = {"WK_SESSION_TIMEOUT_MS": "6000"}  # the broker's minimum: a dead member's
    # partitions move after 6 s instead of 45
    a = start_service("services.archive", prefix, **env(root, WK_INSTANCE_ID="a", **quick))
    b = start_service("services.archive", prefix, **env(root, WK_INSTANCE_ID="b", **quick))
    owned = lambda: [s.metric("wk_archive_assigned_partitions") for s in (a, b)]  # noqa: E731
    wait_for(lambda: owned() == [9, 9], 60, "the partitions split between a and b")
    now = int(time.time() * 1000)
    for topic in TOPICS:
        produce(kafka_settings, prefix, topic, 800, now)
    wait_archived(kafka_settings, prefix)
    written = {s: s.metric_sum("wk_archive_events_total") for s in (a, b)}
    assert sum(written.values()) == 3 * 800 and all(written.values()), written
    b.kill()
    for topic in TOPICS:
        produce(kafka_settings, prefix, topic, 400, now)
    wait_archived(kafka_settings, prefix)  # a took b's partitions over
    for topic in TOPICS:
        assert assert_exact(kafka_settings, prefix, str(root), topic) == 1200
    assert a.stop() == 0


def test_a_store_unusable_at_assignment_is_recovered_before_anything_is_read(
    kafka_bootstrap, kafka_settings, prefix, tmp_path, request
) -> None:
    """The cold tier cannot even be listed when the partitions are assigned (a symbolic
    link loop: ELOOP), so recovery cannot run: nothing is read until it can."""
    root = tmp_path / "tiers"
    root.mkdir()
    os.symlink(root / "cold", root / "cold")
    # Not start_service: that waits for a healthy /healthz, which this one rightly is not.
    service = ServiceProcess(
        "services.archive",
        {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "WK_TOPIC_PREFIX": prefix,
         **env(root, WK_ARCHIVE_ALERT_AFTER_S="1", WK_ARCHIVE_RETRY_MAX_S="0.5")},
        tmp_path / "archive.log",
    )  # fmt: skip
    request.addfinalizer(service.stop)
    produce(kafka_settings, prefix, "feedback", 150, int(time.time() * 1000))
    wait_for(lambda: "FIRING" in alerts(kafka_settings, prefix), 60, "ArchiveWriteFailing")
    assert service.metric("wk_archive_write_failures_total", step="recover") >= 1
    assert committed_lag(kafka_settings, prefix + "archive", [prefix + "feedback"]) == 150
    (root / "cold").unlink()
    wait_archived(kafka_settings, prefix)
    wait_for(lambda: service.health()[0] == 200, 30, "healthy")
    assert assert_exact(kafka_settings, prefix, str(root), "feedback") == 150
    assert service.stop() == 0
