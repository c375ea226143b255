"""kill -9 mid-ingest and an exact resume: every expected event exactly once, the dedup of
the killed run's rows still applied; and the lineage of the ingested, transformed data
in the real registry, with the dataset registered."""

from __future__ import annotations

import itertools
import json
import os
import signal
from collections import Counter

import pytest

from tests.helpers import wait_for
from tests.ingest_support import TRANSFORM, events, ingest, rows, spawn, write_csv, write_setup
from tests.registry_support import TOKENS, client, start_registry
from watchkeeper.ingest.checkpoint import Checkpoint
from watchkeeper.ingest.mapping import row_id
from watchkeeper.ingest.readers import scan
from watchkeeper.runtime import compacted

pytestmark = pytest.mark.kafka
HOOKED = TRANSFORM + "  - dedup: [id]\n  - hook: tests.ingest_hooks:hang_or_pass\n"


def _checkpoint(settings, prefix: str) -> Checkpoint | None:
    found = None
    for record in compacted.read(settings, prefix + "ingest-state", 30):
        found = Checkpoint.from_json(record.value)
    return found


def test_kill_9_mid_file_then_an_exact_resume(kafka_settings, prefix, tmp_path) -> None:
    mapping, transform = write_setup(tmp_path)
    transform.write_text(HOOKED)
    # 6,000 rows, then 50 repeating ids of the first, committed part: dropped as duplicates
    # after the resume too (the resumed run rebuilds the keys it saw).
    data = rows(6000) + rows(50, start=10)
    path = write_csv(tmp_path / "big.csv", data)
    args = [
        str(path),
        "--into",
        "predictions",
        "--mapping",
        str(mapping),
        "--transform",
        str(transform),
        "--batch-rows",
        "500",
    ]
    log = tmp_path / "killed.log"
    # The hook hangs on row id 2700: five transactions (2,500 rows) are committed by then
    # and the sixth is open with 200 rows produced.
    victim = spawn(
        kafka_settings.bootstrap_servers,
        prefix,
        *args,
        log=log,
        WK_TEST_HANG_AT_ID="2700",
        WK_TEST_RAISE_AT_ID="4000",
    )
    try:
        committed = wait_for(
            lambda: (c := _checkpoint(kafka_settings, prefix)) and c.position >= 2500 and c,
            120,
            "a committed checkpoint at row 2,500",
        )
    finally:
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(30)
    assert committed.status == "running" and committed.position == 2500, log.read_text()

    # The second run (no hang; the hook still refuses id 4000) fences the first's
    # transactional id, aborting its open transaction, and resumes after row 2,500.
    os.environ["WK_TEST_RAISE_AT_ID"] = "4000"
    try:
        code, out, err = ingest(kafka_settings.bootstrap_servers, prefix, *args, "--json")
    finally:
        os.environ.pop("WK_TEST_RAISE_AT_ID")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["resumed_from"] == 2500
    assert (summary["rows_read"], summary["sent"]) == (6050, 5999)
    assert summary["dead_lettered"] == {"hook": 1}
    assert summary["deduplicated"] == 50

    digest = scan(path).digest
    ids = Counter(e["event_id"] for e in events(kafka_settings, prefix + "predictions"))
    expected = {row_id(digest, 2 + i) for i in range(6000)} - {row_id(digest, 2 + 4000)}
    assert set(ids) == expected
    assert max(ids.values()) == 1  # none twice: the killed transaction's rows were aborted


def test_the_lineage_of_an_ingest_in_the_registry(
    kafka_settings, prefix, tmp_path, start_service
) -> None:
    registry = start_registry(start_service, prefix, tmp_path)
    mapping, transform = write_setup(tmp_path)
    path = write_csv(tmp_path / "payments.csv", rows(100))
    code, _, err = ingest(
        kafka_settings.bootstrap_servers,
        prefix,
        str(path),
        "--into",
        "predictions",
        "--mapping",
        str(mapping),
        "--transform",
        str(transform),
        "--register",
        "payments:1",
        "--registry",
        registry.url,
        "--token",
        TOKENS["writer"],
    )
    assert code == 0, err
    assert "registered dataset payments version 1" in err
    reader = client(registry, "reader")
    source = f"dataset:file:{path.resolve()}"

    def graph():
        try:
            found = reader.get("/api/v1/lineage", nodeId=source, depth=10)["graph"]
        except Exception:
            return None
        return found if any(n["id"].startswith("dataset:kafka://") for n in found) else None

    nodes = {n["id"]: n for n in wait_for(graph, 90, "the ingest's lineage in the registry")}
    topic = f"dataset:kafka://{kafka_settings.bootstrap_servers.split(',')[0]}:{prefix}predictions"
    jobs = [f"job:watchkeeper-ingest:ingest.payments.{s}" for s in ("1-rename", "2-cast", "to-ms")]
    chain = [
        source,
        jobs[0],
        "dataset:ingest:payments.1-rename",
        jobs[1],
        "dataset:ingest:payments.2-cast",
        jobs[2],
        topic,
    ]
    for origin, destination in itertools.pairwise(chain):
        assert {"origin": origin, "destination": destination} in nodes[origin]["outEdges"]
    dataset = client(registry).get_dataset("payments", "1")
    assert dataset["content_hash"] == scan(path).digest
    assert dataset["row_count"] == 100
