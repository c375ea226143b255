"""Restore against a real target cluster: a damaged archive writes nothing (through the
API and the CLI), a non-empty target is refused unless forced, a forced re-run skips or
resumes what is there, and ``--at`` restores the state as of a time."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from watchkeeper import backup, topic_admin
from watchkeeper.backup import ArchiveError, TargetNotEmpty
from watchkeeper.devstack._offsets import read_to_end
from watchkeeper.settings import KafkaSettings
from watchkeeper.topics import spec

from .backup_support import SecondCluster, build, record
from .conftest import REPO

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> KafkaSettings:
    with SecondCluster(tmp_path_factory.mktemp("target-kafka")) as bootstrap:
        yield KafkaSettings(bootstrap_servers=bootstrap)


def fresh() -> str:
    return f"r{uuid.uuid4().hex[:10]}."


def topics_under(settings: KafkaSettings, prefix: str) -> list[str]:
    names = AdminClient(settings.confluent()).list_topics(timeout=10).topics
    return sorted(n for n in names if n.startswith(prefix))


def produce(settings, topic, items) -> None:
    """``items``: (key, value, timestamp ms, headers) on partition 0, acknowledged."""
    producer = Producer(settings.confluent(**{"enable.idempotence": True}))
    for key, value, ts, headers in items:
        producer.produce(topic, value=value, key=key, partition=0, timestamp=ts, headers=headers)
    assert producer.flush(30) == 0


def contents(settings, topic) -> list[tuple]:
    return [
        (m.key(), m.value(), m.timestamp()[1], m.headers()) for m in read_to_end(settings, topic)
    ]


SILENCES = [
    record(0, 1_000, b"a", b"a-v1", who=b"ann"),
    record(1, 2_000, b"b", b"b-v1"),
    record(4, 3_000, b"a", b"a-v2"),
    record(5, 4_000, b"b", None),  # b deleted at 4 s
]


def damaged(tmp_path, kind: str):
    path = tmp_path / f"{kind}.wkb"
    topics = {"silences": {0: SILENCES}}
    if kind == "truncated":
        build(path, topics)
        path.write_bytes(path.read_bytes()[:-100])
    elif kind == "flipped":
        build(path, topics)
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 3] ^= 0x40
        path.write_bytes(bytes(raw))
    elif kind == "checksum":
        build(path, topics, edit=lambda b: b["topics"][0]["partitions_backed"][0].update(
            sha256="f" * 64))  # fmt: skip
    elif kind == "future":
        build(path, topics, edit=lambda b: b.update(format_version="3.1"))
    elif kind == "missing":
        build(path, topics, drop="topics/silences/0.avro")
    return path


@pytest.mark.parametrize("kind", ["truncated", "flipped", "checksum", "future", "missing"])
def test_a_damaged_archive_is_refused_and_nothing_is_written(tmp_path, target, kind):
    path = damaged(tmp_path, kind)
    prefix = fresh()
    with pytest.raises(ArchiveError) as refused:
        backup.restore(target, path, prefix=prefix)
    words = {"truncated": "truncated", "flipped": "checksum mismatch", "checksum": "sha256",
             "future": "newer", "missing": "missing members"}  # fmt: skip
    assert words[kind] in str(refused.value)
    assert topics_under(target, prefix) == []  # not even a topic created


def test_the_cli_exits_2_with_the_reason_on_a_corrupt_archive(tmp_path, target):
    path = damaged(tmp_path, "flipped")
    prefix = fresh()
    for extra in ([], ["--verify-only"]):
        done = subprocess.run(
            [sys.executable, "-m", "watchkeeper", "restore", str(path), "--prefix", prefix,
             "--bootstrap", target.bootstrap_servers, *extra],
            capture_output=True, text=True, cwd=REPO, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: archive checksum mismatch: the file is corrupt")
        assert "Traceback" not in done.stderr
    assert topics_under(target, prefix) == []
    inspect = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "backup", "inspect", str(path)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert inspect.returncode == 2 and "checksum mismatch" in inspect.stderr


def test_a_non_empty_target_is_refused_unless_forced_and_a_forced_rerun_is_idempotent(
    tmp_path, target
):
    path = tmp_path / "s.wkb"
    build(path, {"silences": {0: SILENCES}, "routing": {0: [record(0, 10, b"m", b"split")]}})
    prefix = fresh()
    first = backup.restore(target, path, prefix=prefix)
    assert [(r.topic, r.action, r.written) for r in first.partitions] == [
        (f"{prefix}silences", "written", 4),
        (f"{prefix}routing", "written", 1),
    ]
    restored = contents(target, f"{prefix}silences")
    assert restored == [
        (b"a", b"a-v1", 1_000, [("who", b"ann")]),
        (b"b", b"b-v1", 2_000, None),
        (b"a", b"a-v2", 3_000, None),
        (b"b", None, 4_000, None),
    ]
    with pytest.raises(TargetNotEmpty) as refused:
        backup.restore(target, path, prefix=prefix)
    assert f"{prefix}silences (4 records)" in str(refused.value)
    assert contents(target, f"{prefix}silences") == restored  # nothing written
    again = backup.restore(target, path, prefix=prefix, force=True)
    assert {(r.action, r.written) for r in again.partitions} == {("complete", 0)}
    assert contents(target, f"{prefix}silences") == restored


def test_a_forced_restore_resumes_a_partition_left_half_written(tmp_path, target):
    """What a restore that lost Kafka midway leaves: the first records of a partition."""
    path = tmp_path / "s.wkb"
    build(path, {"silences": {0: SILENCES}})
    prefix = fresh()
    topic_admin.apply(target, specs=[spec("silences")], prefix=prefix)
    half = [(b"a", b"a-v1", 1_000, [("who", b"ann")]), (b"b", b"b-v1", 2_000, None)]
    produce(target, f"{prefix}silences", half)
    with pytest.raises(TargetNotEmpty):
        backup.restore(target, path, prefix=prefix)
    report = backup.restore(target, path, prefix=prefix, force=True)
    (result,) = report.partitions
    assert (result.action, result.written, result.target_records) == ("resumed", 2, 4)
    assert [c[:3] for c in contents(target, f"{prefix}silences")] == [
        (b"a", b"a-v1", 1_000),
        (b"b", b"b-v1", 2_000),
        (b"a", b"a-v2", 3_000),
        (b"b", None, 4_000),
    ]


def test_a_forced_restore_over_other_records_appends_after_them(tmp_path, target):
    path = tmp_path / "s.wkb"
    build(path, {"silences": {0: SILENCES}})
    prefix = fresh()
    topic_admin.apply(target, specs=[spec("silences")], prefix=prefix)
    produce(target, f"{prefix}silences", [(b"z", b"theirs", 500, None)])
    (result,) = backup.restore(target, path, prefix=prefix, force=True).partitions
    assert (result.action, result.written, result.target_records) == ("appended", 4, 5)
    # The archive's records come last: for a compacted topic, its state is what counts.
    keys = [c[0] for c in contents(target, f"{prefix}silences")]
    assert keys == [b"z", b"a", b"b", b"a", b"b"]


def test_at_restores_the_state_as_of_a_time(tmp_path, target):
    path = tmp_path / "s.wkb"
    build(path, {"silences": {0: SILENCES}})
    prefix = fresh()
    report = backup.restore(target, path, prefix=prefix, at_ms=2_500)
    assert report.expected == 2
    latest = {k: v for k, v, _, _ in contents(target, f"{prefix}silences")}
    assert latest == {b"a": b"a-v1", b"b": b"b-v1"}  # before a's update and b's deletion
    prefix = fresh()
    backup.restore(target, path, prefix=prefix, at_ms=3_500)
    latest = {k: v for k, v, _, _ in contents(target, f"{prefix}silences")}
    assert latest == {b"a": b"a-v2", b"b": b"b-v1"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        capture_output=True, text=True, cwd=REPO, timeout=180,
    )  # fmt: skip


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def test_cli_round_trip_with_a_data_range_and_transactions(
    tmp_path, kafka_settings, prefix, target
):
    # State, with an aborted transaction in the middle (never backed up) and markers.
    producer = Producer(kafka_settings.confluent(**{"transactional.id": f"{prefix}tx"}))
    producer.init_transactions(30)
    for value, commit in ((b"one", True), (b"aborted", False), (b"two", True)):
        producer.begin_transaction()
        producer.produce(f"{prefix}registry-history", value=value, key=b"e", timestamp=1_000)
        producer.flush(30)
        (producer.commit_transaction if commit else producer.abort_transaction)(30)
    # Data: three predictions, of which one inside the asked range (recent: a record older
    # than the topic's 7 days of retention would be deleted by the target broker at once).
    now = int(time.time() * 1000)
    produce(kafka_settings, f"{prefix}predictions",
            [(b"m", b"early", now - 9_000, None), (b"m", b"inside", now - 5_000, [("h", b"1")]),
             (b"m", b"late", now - 1_000, None)])  # fmt: skip
    out = tmp_path / "cli.wkb"
    done = cli("backup", str(out), "--bootstrap", kafka_settings.bootstrap_servers,
               "--prefix", prefix, "--data-since", str(now - 7_000),
               "--data-until", iso(now - 3_000), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}: ") and done.stderr == ""
    manifest = backup.read_manifest(out)
    topics = {t.name: t for t in manifest.topics}
    assert topics["registry-history"].records == 2
    assert topics["predictions"].records == 1 and topics["predictions"].kind == "data"
    assert manifest.data_range == {"since_ms": now - 7_000, "until_ms": now - 3_000}
    assert manifest.source["cluster_id"] and manifest.prefix == prefix

    shown = cli("backup", "inspect", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "predictions" in shown.stdout and "format 1.0" in shown.stdout
    checked = cli("restore", str(out), "--verify-only")
    assert checked.returncode == 0 and "verified: every checksum and count matches" in (
        checked.stdout
    )

    into = fresh()
    conf = tmp_path / "restored-config"
    done = cli("restore", str(out), "--bootstrap", target.bootstrap_servers, "--prefix", into,
               "--config-out", str(conf), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"under prefix {into!r}" in done.stdout
    assert [c[1] for c in contents(target, f"{into}registry-history")] == [b"one", b"two"]
    assert contents(target, f"{into}predictions") == [(b"m", b"inside", now - 5_000, [("h", b"1")])]
    assert (conf / "router.yaml").read_bytes() == (REPO / "deploy" / "router.yaml").read_bytes()
    again = cli("restore", str(out), "--bootstrap", target.bootstrap_servers, "--prefix", into)
    assert again.returncode == 2 and again.stderr.startswith("error: the target is not empty")


def test_a_restore_killed_midway_is_finished_by_a_forced_rerun(tmp_path, target):
    """SIGKILL the restoring process once records reach the target (what a lost Kafka
    connection or a crash leaves: each partition a prefix), then re-run with --force."""
    many = [record(i, 1_000 + i, b"k%d" % (i % 500), b"v" * 200) for i in range(150_000)]
    path = tmp_path / "big.wkb"
    build(path, {"silences": {0: many}, "routing": {0: SILENCES}})
    prefix = fresh()
    topic = f"{prefix}silences"
    process = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "restore", str(path), "--prefix", prefix,
         "--bootstrap", target.bootstrap_servers, "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    consumer_settings = target.confluent(**{"group.id": "probe"})
    probe = Consumer(consumer_settings)
    deadline = time.monotonic() + 120
    held = 0
    try:
        while held == 0 and process.poll() is None and time.monotonic() < deadline:
            if topic in probe.list_topics(timeout=10).topics:
                with contextlib.suppress(KafkaException):
                    held = probe.get_watermark_offsets(TopicPartition(topic, 0), 5)[1]
            time.sleep(0.05)
    finally:
        probe.close()
    process.kill()
    process.wait(30)
    assert held > 0, process.stderr.read().decode()[-2000:]
    report = backup.restore(target, path, prefix=prefix, force=True)
    by_topic = {r.topic: r for r in report.partitions}
    print(f"\nkilled at {held}+ records; the re-run: {by_topic[topic].action} "
          f"({by_topic[topic].written} written)")  # fmt: skip
    assert by_topic[topic].action in ("resumed", "complete", "written")
    assert by_topic[topic].target_records == len(many)
    restored = read_to_end(target, topic)
    assert [(m.key(), m.timestamp()[1]) for m in restored] == [
        (r.key, r.timestamp_ms) for r in many
    ]
