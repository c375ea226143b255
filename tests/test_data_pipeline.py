"""The data pipeline end to end on a real broker, real files and the real services: a CSV
file ingested (transformed, exactly once) → archived by the archive service → queried with
DuckDB → replayed into another installation's topic → the same event set, each once."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections import Counter

import pytest

from watchkeeper import cli, topic_admin

from .archive_support import in_tiers
from .helpers import wait_for
from .ingest_support import events, ingest_file, rows, write_csv, write_setup

pytestmark = pytest.mark.kafka
ROWS = 1_200


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def other_prefix(kafka_settings):
    value = f"t{uuid.uuid4().hex[:10]}."
    topic_admin.apply(kafka_settings, prefix=value)
    yield value
    topic_admin.delete_prefixed(kafka_settings, value)


def test_ingested_archived_queried_and_replayed_exactly(
    kafka_settings, prefix, other_prefix, start_service, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_settings.bootstrap_servers)
    mapping, transform = write_setup(tmp_path)
    path = write_csv(tmp_path / "payments.csv", rows(ROWS))
    code, _, err = ingest_file(kafka_settings, prefix, path, mapping, "--transform", transform)
    assert code == 0, err
    ingested = events(kafka_settings, prefix + "predictions")
    assert len(ingested) == ROWS

    root, policy = tmp_path / "tiers", tmp_path / "archive.yaml"
    policy.write_text("defaults: {cold: 1d, archive: forever}\n")
    start_service(
        "services.archive",
        prefix,
        WK_ARCHIVE_ROOT=str(root),
        WK_ARCHIVE_POLICY=str(policy),
        WK_ARCHIVE_FLUSH_RECORDS="300",
        WK_ARCHIVE_FLUSH_S="0.5",
    )
    # Waiting for the count, not past it: a record written twice makes it overshoot and
    # the exact checks below fail.
    wait_for(lambda: sum(in_tiers(str(root), "predictions")[1].values()) >= ROWS, 120,
             "the archive holding every ingested event")  # fmt: skip
    found, seen = in_tiers(str(root), "predictions")
    assert set(seen.values()) == {1} and len(found) == ROWS
    assert sorted(r["event_id"] for _, r in found.values()) == sorted(
        e["event_id"] for e in ingested
    )

    # DuckDB over the tiers: the aggregate computed from the ingested events.
    code, out, err = run_cli(
        "query",
        "SELECT cat_features['channel'] AS channel, count(*) AS n, avg(latency_ms) AS mean, "
        "sum(num_features['amount']) AS amount FROM predictions GROUP BY 1 ORDER BY 1",
        "--root", str(root), "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    answer = {row["channel"]: row for row in map(json.loads, out.splitlines())}  # JSON lines
    by_channel: dict[str, list[dict]] = {}
    for e in ingested:
        by_channel.setdefault(e["cat_features"]["channel"], []).append(e)
    assert set(answer) == set(by_channel) == {"app", "web"}
    for channel, group in by_channel.items():
        assert answer[channel]["n"] == len(group)
        mean = sum(e["latency_ms"] for e in group) / len(group)
        assert answer[channel]["mean"] == pytest.approx(mean, rel=1e-12)
        total = sum(e["num_features"]["amount"] for e in group)
        assert answer[channel]["amount"] == pytest.approx(total, rel=1e-12)

    # Replayed into another installation's topic: the same events, each once.
    code, _, err = run_cli(
        "replay", "--root", str(root), "--topic", "predictions", "--since", "0",
        "--prefix", other_prefix,
    )  # fmt: skip
    assert code == 0, err
    replayed = events(kafka_settings, other_prefix + "predictions")
    counts = Counter(e["event_id"] for e in replayed)
    assert len(replayed) == ROWS and set(counts.values()) == {1}
    by_id = {e["event_id"]: e for e in ingested}
    assert all(by_id[e["event_id"]] == e for e in replayed)
