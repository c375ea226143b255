"""``watchkeeper replay``: the archived event set back in a topic exactly — from cold, from
archive, from a compaction cut short — a range restricting exactly, exactly once across a
kill -9, a finished replay sending nothing, and bad input refused before anything is sent.
Every count reads the target to its end offsets (read-committed)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from tests.helpers import wait_for
from tests.tiers_support import (
    as_events,
    compact,
    events,
    expected,
    recent_hour_ms,
    write_cold,
)
from watchkeeper.cli import main
from watchkeeper.devstack._offsets import end_offsets, read_to_end
from watchkeeper.tiering.layout import HOUR_MS
from watchkeeper.tiering.store import Store
from watchkeeper.tiers_cli.replay import HEADER, HOLD_ENV

pytestmark = pytest.mark.kafka
START = recent_hour_ms()
ROWS = events(1_200, START, 3 * HOUR_MS)


@pytest.fixture
def env(kafka_settings, prefix, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_settings.bootstrap_servers)
    monkeypatch.setenv("WK_TOPIC_PREFIX", prefix)
    return prefix


def settled_ends(kafka_settings, topic: str) -> dict[int, int]:
    """End offsets once every partition of a topic just created has its leader."""

    def ends():
        try:
            return end_offsets(kafka_settings, topic)
        except KafkaException:  # a partition still electing its leader: ask again
            return None

    return wait_for(ends, what=f"{topic}'s end offsets")


def replay(root: str, *extra: str) -> int:
    return main(["replay", "--root", root, "--topic", "predictions",
                 f"--since={START}", f"--until={START + 3 * HOUR_MS}", *extra])  # fmt: skip


def replayed(kafka_settings, topic: str):
    messages = read_to_end(kafka_settings, topic)
    assert all(dict(m.headers() or [])[HEADER].startswith(b"replay-") for m in messages)
    return as_events(messages)


@pytest.mark.parametrize("tier", ["cold", "archive"])
def test_a_replay_restores_exactly_the_archived_events(tier, tmp_path, env, kafka_settings):
    store = Store.open(str(tmp_path))
    cold = write_cold(store, ROWS)
    if tier == "archive":
        compact(store, cold)
        assert {p.tier for p in store.parts()} == {"archive"}
    assert replay(str(tmp_path), "--from", tier, "--batch", "500") == 0
    got = replayed(kafka_settings, env + "predictions")
    assert got == expected(ROWS)  # every field, key and timestamp; each event once
    # Source partitions are kept, and so is the order within each.
    for message in read_to_end(kafka_settings, env + "predictions"):
        event_id = as_events([message]).popitem()[0]
        (coords,) = [c for c, r in ROWS if r["event_id"] == event_id]
        assert message.partition() == coords.partition


def test_a_compaction_cut_short_replays_each_event_once(tmp_path, env, kafka_settings, capsys):
    store = Store.open(f"file://{tmp_path}")
    cold = write_cold(store, ROWS)
    compact(store, cold[: len(cold) // 2], delete=False)  # sources left beside the archive
    assert len(store.parts()) > len(store.readable("predictions"))
    target = env + "backfill"
    admin = AdminClient(kafka_settings.confluent())
    admin.create_topics([NewTopic(target, 3, 1)])[target].result(30)
    wait_for(lambda: target in admin.list_topics(timeout=10).topics, what=f"{target} created")
    assert replay(store.url, "--into", target) == 0
    assert replayed(kafka_settings, target) == expected(ROWS)
    assert '"events": 1200' in capsys.readouterr().out


def test_a_range_restricts_exactly(tmp_path, env, kafka_settings):
    store = Store.open(str(tmp_path))
    compact(store, write_cold(store, ROWS), delete=False)
    since, until = START + HOUR_MS // 3, START + 2 * HOUR_MS + 17_000
    code = main(["replay", "--root", str(tmp_path), "--topic", "predictions",
                 f"--since={since}", f"--until={until}", "--where", "model = 'fraud'"])  # fmt: skip
    assert code == 0
    want = {k: v for k, v in expected(ROWS, since, until).items() if v[0]["model"] == "fraud"}
    assert 0 < len(want) < len(ROWS) // 3
    assert replayed(kafka_settings, env + "predictions") == want


def test_kill_9_mid_replay_then_rerun_is_exactly_once(tmp_path, env, kafka_settings):
    store = Store.open(str(tmp_path))
    write_cold(store, ROWS)
    command = [sys.executable, "-m", "watchkeeper", "replay", "--root", str(tmp_path),
               "--topic", "predictions", f"--since={START}", f"--until={START + 3 * HOUR_MS}",
               "--batch", "100"]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, HOLD_ENV: "3"},
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stderr], daemon=True).start()
    try:
        while "holding an open transaction" not in lines.get(timeout=120):
            pass
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    # Three batches committed; the fourth was sent but never committed (a read-committed
    # reader's end is the last stable offset: the open transaction's records lie beyond it).
    assert len(read_to_end(kafka_settings, env + "predictions")) == 300
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    # Partition 0's two batches and partition 1's first were committed: it goes on after them.
    assert '"resumed_after": {"0": 199, "1": 99}' in rerun.stdout
    assert '"this_run": 900' in rerun.stdout
    assert replayed(kafka_settings, env + "predictions") == expected(ROWS)
    # Finished: a re-run sends nothing; --again sends it once more.
    ends = end_offsets(kafka_settings, env + "predictions")
    again = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0 and "already finished" in again.stdout, again.stderr
    assert end_offsets(kafka_settings, env + "predictions") == ends
    assert subprocess.run([*command, "--again"], capture_output=True, timeout=180).returncode == 0
    assert len(read_to_end(kafka_settings, env + "predictions")) == 2 * len(ROWS)


def test_a_corrupt_part_is_refused_before_anything_is_sent(tmp_path, env, kafka_settings, capsys):
    store = Store.open(str(tmp_path))
    cold = write_cold(store, ROWS)
    (tmp_path / cold[-1]).write_bytes(b"PAR1\x00\x00 torn write PAR1")
    assert replay(str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert cold[-1] in err and "not a readable Parquet file" in err
    assert set(settled_ends(kafka_settings, env + "predictions").values()) == {0}


def test_a_corrupt_archive_part_is_refused_before_anything_is_sent(tmp_path, capsys) -> None:
    store = Store.open(str(tmp_path))
    (archive, *_) = compact(store, write_cold(store, ROWS))
    (tmp_path / archive).write_bytes((tmp_path / archive).read_bytes()[:-40])
    assert replay(str(tmp_path), "--dry-run") == 2
    assert archive in capsys.readouterr().err


def test_an_unknown_target_topic_is_refused(tmp_path, env, kafka_settings, capsys):
    write_cold(Store.open(str(tmp_path)), ROWS[:50])
    assert replay(str(tmp_path), "--into", env + "no-such-topic") == 2
    assert "no such topic" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, reason",
    [
        (["--topic", "nope", "--since=-2h"], "unknown topic 'nope'"),
        (["--topic", "dlq", "--since=-2h"], "unknown topic 'dlq'"),
        (["--topic", "predictions", "--since=-1h", "--until=-2h"], "must be before --until"),
        (["--topic", "predictions", "--since", "soon"], "'soon' is not a time"),
        (
            ["--topic", "predictions", "--since=-2h", "--where", "1=1); COPY x TO 'y'; (1"],
            "--where",
        ),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(tmp_path, capsys, argv, reason) -> None:
    write_cold(Store.open(str(tmp_path)), ROWS[:50])
    assert main(["replay", "--root", str(tmp_path), "--dry-run", *argv]) == 2
    assert reason in capsys.readouterr().err


def test_a_root_with_no_parts_and_a_dry_run(tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["replay", "--root", str(tmp_path / "empty"), "--topic", "predictions",
                 "--since=-1d", "--dry-run"]) == 2  # fmt: skip
    assert "no cold or archive parts under this root" in capsys.readouterr().err
    write_cold(Store.open(str(tmp_path / "t")), ROWS)
    assert main(["replay", "--root", str(tmp_path / "t"), "--topic", "predictions",
                 f"--since={START}", f"--until={START + HOUR_MS}", "--dry-run"]) == 0  # fmt: skip
    assert f'"events": {len(expected(ROWS, START, START + HOUR_MS))}' in capsys.readouterr().out


def test_the_benchmark_measures_a_replay_it_checked(kafka_settings, prefix, tmp_path) -> None:
    from loadtest.data_replay import measure

    figures = measure(kafka_settings, prefix, tmp_path, events=3_000)
    assert figures["replay_events"] == 3_000  # measure read them back to the end offsets
    assert figures["replay_events_per_s"] > 0 and figures["query_aggregate_s"] > 0
    assert figures["bytes_per_event_archive_parts"] < figures["bytes_per_event_cold_parts"]


def test_a_dry_run_over_an_fsspec_root_counts_the_readable_rows(capsys) -> None:
    store = Store.open("memory://wk-replay-dry-run")
    cold = write_cold(store, ROWS)
    compact(store, cold[:5], delete=False)
    window = [f"--since={START}", f"--until={START + 3 * HOUR_MS}", "--dry-run"]
    base = ["replay", "--root", store.url, "--topic", "predictions", *window]
    assert main([*base, "--from", "cold"]) == 0
    assert f'"events": {len(ROWS)}' in capsys.readouterr().out  # cold only: every cold part
    assert main([*base, "--from", "archive"]) == 0
    archived = sum(store.read(p).num_rows for p in cold[:5])
    assert f'"events": {archived}' in capsys.readouterr().out
