"""The archive service on a real broker and real files: every record of the data topics in
the tiers exactly once, dead letters with their reason, compaction and retention by the
records' days, /metrics."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from watchkeeper.devstack._offsets import read_to_end
from watchkeeper.tiering.layout import bucket_of
from watchkeeper.tiering.store import Store

from .archive_support import DAY_MS, assert_exact, produce, produce_raw, wait_archived
from .helpers import wait_for

pytestmark = pytest.mark.kafka

POLICY = """
defaults: {cold: 1d, archive: 400d}
topics:
  telemetry: {cold: 1d, archive: "off"}
  feedback: {cold: 1d, archive: 2d}
"""
TOPICS = ["predictions", "feedback", "telemetry"]


def archive_env(root: Path, policy: Path, **extra: str) -> dict[str, str]:
    return {
        "WK_ARCHIVE_ROOT": str(root),
        "WK_ARCHIVE_POLICY": str(policy),
        "WK_ARCHIVE_FLUSH_RECORDS": "150",
        "WK_ARCHIVE_FLUSH_S": "0.5",
        "WK_ARCHIVE_MAINTENANCE_S": "1",
        **extra,
    }


def test_archives_every_record_once_then_compacts_and_applies_retention(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    root, policy = tmp_path / "tiers", tmp_path / "archive.yaml"
    policy.write_text(POLICY)
    now = int(time.time() * 1000)
    produce(kafka_settings, prefix, "predictions", 700, now)
    produce(kafka_settings, prefix, "feedback", 300, now)
    produce(kafka_settings, prefix, "telemetry", 200, now)
    produce_raw(kafka_settings, prefix + "predictions", b"\x00garbage", b"fraud")
    produce_raw(kafka_settings, prefix + "feedback", None, b"fraud")  # a tombstone
    service = start_service("services.archive", prefix, **archive_env(root, policy))
    wait_archived(kafka_settings, prefix)

    assert assert_exact(kafka_settings, prefix, str(root), "predictions") == 700
    assert assert_exact(kafka_settings, prefix, str(root), "feedback") == 300
    assert assert_exact(kafka_settings, prefix, str(root), "telemetry") == 200
    letters = read_to_end(kafka_settings, prefix + "dlq")
    reasons = sorted(
        (dict(m.headers())["dlq.topic"].decode(), dict(m.headers())["dlq.error.kind"].decode())
        for m in letters
    )
    assert reasons == [(prefix + "feedback", "not_single_object"),
                       (prefix + "predictions", "not_single_object")]  # fmt: skip
    assert service.metric("wk_archive_events_total", topic="predictions") == 700
    assert service.metric_sum("wk_dead_letters_total", service="archive") == 2
    store = Store.open(str(root))
    assert {p.tier for p in store.parts()} == {"cold"}  # today: nothing is due yet

    # Days that ended long enough ago: predictions compacted, feedback compacted and then
    # deleted by its 2-day archive retention, telemetry (no archive tier) deleted.
    old = now - 3 * DAY_MS
    produce(kafka_settings, prefix, "predictions", 400, old)
    produce(kafka_settings, prefix, "feedback", 100, now - 5 * DAY_MS)
    produce(kafka_settings, prefix, "telemetry", 100, now - 2 * DAY_MS)
    wait_archived(kafka_settings, prefix)
    old_date = bucket_of(old)[0]

    def settled():
        parts = store.parts()
        cold_old = [p for p in parts if p.tier == "cold" and p.date < bucket_of(now)[0]]
        archived = [p for p in parts if p.tier == "archive"]
        return (
            not cold_old
            and {(p.topic, p.date) for p in archived} == {("predictions", old_date)}
            and service.metric("wk_archive_retention_deletions_total", tier="archive") > 0
        )

    wait_for(settled, 90, "old days compacted and deleted")
    archived = store.parts("archive")
    partitions = [p.partition for p in archived]
    assert len(partitions) == len(set(partitions))  # one archive part per partition and day
    assert sum(store.read(p.path).num_rows for p in archived) == 400
    assert all(len(store.sources(p.path)) >= 1 for p in archived)
    today = bucket_of(now)[0]
    recent = lambda timestamp: bucket_of(timestamp)[0] == today  # noqa: E731
    assert assert_exact(kafka_settings, prefix, str(root), "predictions") == 1100
    assert assert_exact(kafka_settings, prefix, str(root), "feedback", keep=recent) == 300
    assert assert_exact(kafka_settings, prefix, str(root), "telemetry", keep=recent) == 200
    assert service.metric("wk_archive_compactions_total") >= len(archived)  # + feedback's
    assert service.metric("wk_archive_retention_deletions_total", tier="cold") > 0
    assert service.metric("wk_archive_bytes_written_total", tier="archive") > 0
    assert service.stop() == 0
