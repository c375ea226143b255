"""Which rows a replay or cut takes, without Kafka: time range, condition, checkpoint,
offset order across interleaved hour parts, older files, and the checks that refuse."""

from __future__ import annotations

import pytest

from tests.tiers_support import columns, compact, events, recent_hour_ms, write_cold
from watchkeeper.tiering.layout import HOUR_MS
from watchkeeper.tiering.store import Store
from watchkeeper.tiers_cli import selection
from watchkeeper.tiers_cli.checkpoint import Checkpoint, ReplayId
from watchkeeper.tiers_cli.times import parse_time

START = recent_hour_ms()
ROWS = events(600, START, 3 * HOUR_MS)


def taken(store, parts, **kw) -> dict[int, list[int]]:
    return {
        p: t.column("_offset").to_pylist()
        for p, t in selection.partition_tables(store, parts, columns(), **kw)
    }


def test_rows_come_per_partition_in_offset_order_across_hour_parts(tmp_path) -> None:
    store = Store.open(str(tmp_path))
    write_cold(store, ROWS)  # late records put lower offsets in later hours' files
    got = taken(store, store.readable("predictions"), since_ms=None, until_ms=None)
    want: dict[int, list[int]] = {}
    for coords, _ in ROWS:
        want.setdefault(coords.partition, []).append(coords.offset)
    assert got == {p: sorted(o) for p, o in sorted(want.items())}


def test_range_condition_and_checkpoint_restrict_exactly(tmp_path) -> None:
    store = Store.open(str(tmp_path))
    compact(store, write_cold(store, ROWS))
    since, until = START + 1234, START + 2 * HOUR_MS - 1
    got = taken(store, store.readable("predictions", since, until), since_ms=since,
                until_ms=until, where="status = 'OK' AND num_features['amount'] > 100",
                after={0: 50})  # fmt: skip
    want: dict[int, list[int]] = {}
    for c, r in ROWS:
        if (
            since <= c.timestamp_ms < until
            and r["status"] == "OK"
            and r["num_features"]["amount"] > 100
            and (c.partition != 0 or c.offset > 50)
        ):
            want.setdefault(c.partition, []).append(c.offset)  # fmt: skip
    assert got == {p: sorted(o) for p, o in sorted(want.items())}


def test_a_part_of_an_older_version_gets_the_defaults(tmp_path) -> None:
    store = Store.open(str(tmp_path))
    (path, *_) = write_cold(store, ROWS[:30])
    older = store.read(path).drop_columns(["cache_hit", "fallback_used"])
    store.write(path, older, level=3)
    ((_, table),) = [x for x in selection.partition_tables(
        store, store.parts()[:1], columns(), None, None)]  # fmt: skip
    assert set(table.column("cache_hit").to_pylist()) == {False}


def test_a_part_of_another_event_type_is_refused(tmp_path) -> None:
    store = Store.open(str(tmp_path))
    write_cold(store, ROWS[:30])
    with pytest.raises(selection.BadInput, match="holds PredictionEvent events, not Feedback"):
        selection.check_parts(store, store.parts(), "FeedbackEvent")


@pytest.mark.parametrize("where", ["nope = 1", "1=1) UNION SELECT * FROM part WHERE (1", "x ="])
def test_a_bad_condition_is_refused_before_reading(where) -> None:
    with pytest.raises(selection.BadInput, match="--where"):
        selection.check_where(columns(), where)


def test_times_and_identities() -> None:
    now = START
    assert parse_time("-90s", now) == now - 90_000
    assert parse_time("2026-01-01T01:00:00+01:00", now) == 1_767_225_600_000
    rid = ReplayId("/r", "predictions", "all", 1, 2, "wk.predictions")
    assert rid.key() != ReplayId("/r", "predictions", "cold", 1, 2, "wk.predictions").key()
    assert rid.key() != ReplayId("/r", "predictions", "all", 1, 2, "wk.x").key()
    assert rid.key() != ReplayId("/r", "predictions", "all", 1, 2, "wk.predictions", "a").key()
    done = Checkpoint(run=2, positions={1: 5}, sent=6).finished()
    assert done.again() == Checkpoint(run=3)
