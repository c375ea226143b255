"""The archive's domain, without Kafka: the retention file, buffers, flushes to a store,
recovery after an uncommitted flush, compaction (and a compaction cut short), retention
per tier with an injected clock, a store that refuses writes."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from services.archive.buffer import Buffers
from services.archive.compaction import maintain
from services.archive.flush import write_batch
from services.archive.policy import Retention, load_policy, load_policy_text
from services.archive.recovery import resume
from watchkeeper.codec import Codec
from watchkeeper.tiering.columns import Columns, Coordinates
from watchkeeper.tiering.layout import DAY_MS, HOUR_MS, archive_path
from watchkeeper.tiering.store import Store
from watchkeeper.yamlconf import ConfigFileError

REPO = Path(__file__).resolve().parent.parent
CODEC = Codec()
COLUMNS = Columns.of(CODEC, "FeedbackEvent")
DAY0 = 1_767_225_600_000  # 2026-01-01T00:00Z
TOPIC = "wk.feedback"


def record(i: int) -> dict:
    event = {"event_id": f"e{i}", "event_time_ms": DAY0, "model": "fraud", "label": str(i)}
    return CODEC.decode_as("FeedbackEvent", CODEC.encode("FeedbackEvent", event))


def fill(store: Store, partition: int, offsets: range, timestamp: int, per_flush: int) -> None:
    """Flushes of ``per_flush`` records each, as the service makes them."""
    buffers = Buffers(per_flush, 3600.0)
    for offset in offsets:
        coords = Coordinates(TOPIC, partition, offset, timestamp + offset * 1000, b"fraud")
        buffers.add(coords, record(offset), now_s=0.0)
        if buffers.due(0.0):
            write_batch(store, "feedback", COLUMNS, buffers.take((TOPIC, partition)), 3)
    if len(buffers):
        write_batch(store, "feedback", COLUMNS, buffers.take((TOPIC, partition)), 3)


def rows(store: Store) -> list[tuple[int, int, str]]:
    found = []
    for part in store.readable("feedback"):
        for coords, event in COLUMNS.rows(store.read(part.path)):
            found.append((coords.partition, coords.offset, event["label"]))
    return sorted(found)


# -- the retention file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("defaults:\n  cold: soon\n", 2, "cold: not a duration"),
        ("defaults:\n  hot: 1d\n", 2, "unknown key 'hot'"),
        ("defaults: {cold: 1d}\ntopics:\n  telemetry:\n    cold: 2d\n    archive: 1d\n", 5,
         "archive must not be shorter than cold"),
        ("topics:\n  telemetry: 7d\n", 2, "telemetry must be a mapping"),
        ("retention: {}\n", 1, "unknown key 'retention'"),
    ],
)  # fmt: skip
def test_a_bad_retention_file_names_its_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load_policy_text(text, "archive.yaml")
    assert caught.value.line == line and reason in caught.value.reason, str(caught.value)


def test_the_shipped_file_and_check_config(tmp_path: Path) -> None:
    shipped = load_policy(str(REPO / "deploy" / "archive.yaml"))
    assert shipped.for_topic("telemetry").archived is False
    assert shipped.for_topic("feedback").archive_s == float("inf")
    bad = tmp_path / "archive.yaml"
    bad.write_text("defaults:\n  archive: sometimes\n")
    done = subprocess.run(
        [sys.executable, "-m", "services.archive", "--check-config", str(bad)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"{bad}:2: archive: not a duration" in done.stderr
    assert "Traceback" not in done.stderr


# -- flush, recovery ---------------------------------------------------------------------


def test_a_flush_writes_one_part_per_hour_bucket_with_every_field(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    buffers = Buffers(100, 60.0)
    for offset in range(6):  # offsets 0-2 in hour 0, 3-5 in hour 1
        coords = Coordinates(TOPIC, 4, offset, DAY0 + (offset // 3) * HOUR_MS, b"fraud")
        buffers.add(coords, record(offset), now_s=0.0)
    batch = buffers.take((TOPIC, 4))
    written = write_batch(store, "feedback", COLUMNS, batch, 3)
    assert batch.next_offset == 6
    assert [(p.hour, p.first, p.last) for p in store.parts()] == [(0, 0, 2), (1, 3, 5)]
    assert [w.rows for w in written] == [3, 3] and all(w.bytes > 0 for w in written)
    back = [e for p in store.parts() for _, e in COLUMNS.rows(store.read(p.path))]
    assert back == [record(i) for i in range(6)]


def test_recovery_deletes_what_an_uncommitted_flush_left_and_nothing_else(tmp_path) -> None:
    store = Store.open(str(tmp_path))
    fill(store, 1, range(0, 30), DAY0, per_flush=10)  # parts 0-9, 10-19, 20-29
    fill(store, 2, range(0, 10), DAY0, per_flush=10)
    found = resume(store, "feedback", 1, committed=20, log_start=0)  # 20-29 never committed
    assert found.offset == 20 and len(found.deleted) == 1
    assert "-00000000000000000020-" in found.deleted[0]
    assert [(p.partition, p.first) for p in store.parts()] == [(1, 0), (1, 10), (2, 0)]


def test_killed_before_the_first_commit_a_gap_below_a_part_is_not_skipped(tmp_path) -> None:
    """One flush writes one part per hour bucket, the earlier hour first: offsets 6-9 (hour
    0) before 0-5 (hour 1). Killed between the two, with no commit yet, the store holds
    6-9 only; resuming "after the store" would lose 0-5."""
    store = Store.open(str(tmp_path))
    buffers = Buffers(100, 60.0)
    for offset in range(10):
        hour = 1 if offset < 6 else 0
        coords = Coordinates(TOPIC, 0, offset, DAY0 + hour * HOUR_MS, b"k")
        buffers.add(coords, record(offset), now_s=0.0)
    batch = buffers.take((TOPIC, 0))
    batch.buckets = batch.buckets[:1]  # the kill: only the first bucket's part was written
    write_batch(store, "feedback", COLUMNS, batch, 3)
    assert [(p.first, p.last) for p in store.parts()] == [(6, 9)]
    found = resume(store, "feedback", 0, committed=None, log_start=0)
    assert found.offset == 0 and store.parts() == []  # all of it is read and written again
    # A new group over a store whose archive holds 0-49 resumes after the archive.
    fill(store, 3, range(0, 50), DAY0, per_flush=50)
    maintain(store, "feedback", 3, 50, Retention(0, 86400 * 30), DAY0 + DAY_MS, 19)
    assert resume(store, "feedback", 3, committed=None, log_start=0).offset == 50
    assert resume(store, "feedback", 3, committed=None, log_start=70).offset == 70


def test_a_failed_flush_keeps_its_batch_for_the_retry(tmp_path: Path) -> None:
    blocked = tmp_path / "cold"
    blocked.write_text("a file where the tier's directory must be")
    store = Store.open(str(tmp_path))
    buffers = Buffers(2, 60.0)
    for offset in range(3):
        buffers.add(Coordinates(TOPIC, 0, offset, DAY0, b"k"), record(offset), now_s=0.0)
    batch = buffers.take((TOPIC, 0))
    with pytest.raises(OSError) as caught:
        write_batch(store, "feedback", COLUMNS, batch, 3)
    assert caught.value.errno in (errno.ENOTDIR, errno.EEXIST, None)
    buffers.restore(batch, since_s=1.0)
    buffers.add(Coordinates(TOPIC, 0, 3, DAY0, b"k"), record(3), now_s=2.0)
    blocked.unlink()
    again = buffers.take((TOPIC, 0))
    assert again.next_offset == 4 and again.count == 4
    write_batch(store, "feedback", COLUMNS, again, 3)
    assert [o for _, o, _ in rows(store)] == [0, 1, 2, 3]


def test_a_store_that_raises_on_write_is_an_error_not_a_loss(tmp_path: Path) -> None:
    class Full(Store):
        def write(self, relpath, table, level, sources=None):
            raise OSError(errno.ENOSPC, "No space left on device")

    store = Full.open(str(tmp_path))
    buffers = Buffers(1, 60.0)
    buffers.add(Coordinates(TOPIC, 0, 0, DAY0, b"k"), record(0), now_s=0.0)
    batch = buffers.take((TOPIC, 0))
    with pytest.raises(OSError, match="No space"):
        write_batch(store, "feedback", COLUMNS, batch, 3)
    buffers.restore(batch, 0.0)
    assert len(buffers) == 1


# -- compaction and retention -----------------------------------------------------------


def test_compaction_merges_each_day_into_one_part_per_partition(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    for partition in (0, 1):
        fill(store, partition, range(0, 120), DAY0, per_flush=25)  # 2 hours, 5 parts each
    fill(store, 0, range(120, 130), DAY0 + DAY_MS, per_flush=25)  # the next day
    before = rows(store)
    policy = Retention(cold_s=3600, archive_s=30 * 86400)
    not_yet = maintain(store, "feedback", 0, 130, policy, DAY0 + DAY_MS + 1800_000, 19)
    assert not not_yet.compacted  # the day ended 30 min ago; cold keeps it an hour
    for partition in (0, 1):
        maintain(store, "feedback", partition, 130, policy, DAY0 + DAY_MS + 3600_000, 19)
    archived = store.parts("archive")
    assert [(p.date, p.partition, p.first, p.last) for p in archived] == [
        ("2026-01-01", 0, 0, 119), ("2026-01-01", 1, 0, 119)]  # fmt: skip
    assert [p.date for p in store.parts("cold")] == ["2026-01-02"]
    assert rows(store) == before
    assert len(store.sources(archived[0].path)) == 5


def test_only_parts_below_the_committed_offset_are_compacted(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    fill(store, 0, range(0, 50), DAY0, per_flush=25)  # 0-24 committed, 25-49 not yet
    report = maintain(store, "feedback", 0, 25, Retention(0, 86400 * 30), DAY0 + DAY_MS, 19)
    assert [(c.rows, len(c.sources)) for c in report.compacted] == [(25, 1)]
    assert [(p.tier, p.first) for p in store.parts()] == [("archive", 0), ("cold", 25)]


def test_a_compaction_cut_short_never_doubles_a_record(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    fill(store, 0, range(0, 40), DAY0, per_flush=10)
    before = rows(store)
    sources = [p.path for p in store.parts("cold")]
    table = pa.concat_tables([store.read(s) for s in sources])
    # Killed after writing the archive part, before deleting any source:
    store.write(archive_path("feedback", "2026-01-01", 0, 0, 39), table, 19, sources=sources)
    assert rows(store) == before  # readers skip the replaced parts already
    report = maintain(store, "feedback", 0, 40, Retention(86400, 86400 * 30), DAY0, 19)
    assert report.deleted["cold"] == 4 and not report.compacted
    assert [p.tier for p in store.parts()] == ["archive"] and rows(store) == before


def test_a_record_a_stale_writer_left_twice_is_archived_once(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    fill(store, 0, range(0, 20), DAY0, per_flush=20)
    fill(store, 0, range(10, 30), DAY0, per_flush=20)  # overlapping: 10-19 twice
    maintain(store, "feedback", 0, 30, Retention(0, 86400 * 30), DAY0 + DAY_MS, 19)
    assert [o for _, o, _ in rows(store)] == list(range(30))


def test_retention_per_tier_by_the_injected_clock(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    fill(store, 0, range(0, 10), DAY0, per_flush=10)
    keep = Retention(cold_s=86400, archive_s=3 * 86400)
    maintain(store, "feedback", 0, 10, keep, DAY0 + 2 * DAY_MS, 19)  # compacted
    assert [p.tier for p in store.parts()] == ["archive"]
    report = maintain(store, "feedback", 0, 10, keep, DAY0 + 4 * DAY_MS - 1, 19)
    assert dict(report.deleted) == {} and store.parts()
    report = maintain(store, "feedback", 0, 10, keep, DAY0 + 4 * DAY_MS, 19)
    assert dict(report.deleted) == {"archive": 1} and store.parts() == []
    # No archive tier: the cold day is deleted once its cold retention is over.
    fill(store, 0, range(10, 20), DAY0, per_flush=10)
    off = Retention(cold_s=86400, archived=False)
    assert dict(maintain(store, "feedback", 0, 20, off, DAY0 + DAY_MS, 19).deleted) == {}
    assert dict(maintain(store, "feedback", 0, 20, off, DAY0 + 2 * DAY_MS, 19).deleted) == {
        "cold": 1
    }
    assert store.parts() == []
