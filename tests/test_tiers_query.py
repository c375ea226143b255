"""``watchkeeper query``: DuckDB over exactly the readable parts, aggregates checked against
the same events summed in Python; read-only; SQL errors and bad input exit 2."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from tests.tiers_support import compact, events, recent_hour_ms, write_cold
from watchkeeper.cli import main
from watchkeeper.tiering.layout import HOUR_MS
from watchkeeper.tiering.store import Store
from watchkeeper.tiers_cli import query

START = recent_hour_ms()
ROWS = events(3_000, START, 3 * HOUR_MS)
AGGREGATE = ("SELECT model, count(*) AS n, avg(latency_ms) AS mean FROM predictions "
             "GROUP BY model ORDER BY model")  # fmt: skip


def in_python(rows) -> list[dict]:
    sums: dict[str, list[float]] = defaultdict(list)
    for _, event in rows:
        sums[event["model"]].append(event["latency_ms"])
    return [{"model": m, "n": len(v), "mean": sum(v) / len(v)} for m, v in sorted(sums.items())]


def assert_same(answer: list[dict], rows) -> None:
    truth = in_python(rows)
    assert [(a["model"], a["n"]) for a in answer] == [(t["model"], t["n"]) for t in truth]
    for a, t in zip(answer, truth, strict=True):
        assert a["mean"] == pytest.approx(t["mean"], rel=1e-12)


@pytest.fixture
def cut_short(tmp_path) -> Store:
    """Two hours compacted with their cold sources still there, the third hour cold."""
    store = Store.open(str(tmp_path / "tiers"))
    cold = write_cold(store, ROWS)
    last_hour = {p for p in cold if f"hour={(START // HOUR_MS + 2) % 24:02d}" in p}
    compact(store, [p for p in cold if p not in last_hour], delete=False)
    return store


def test_the_aggregate_matches_python_over_cold_parts(tmp_path) -> None:
    store = Store.open(str(tmp_path))
    write_cold(store, ROWS)
    assert_same(query.run(store, AGGREGATE).to_pylist(), ROWS)


def test_a_compaction_cut_short_does_not_double(cut_short) -> None:
    parts = cut_short.parts()
    assert {p.tier for p in parts} == {"cold", "archive"}
    total = sum(cut_short.read(p.path).num_rows for p in parts)
    assert total > len(ROWS)  # a glob of both tiers would count these
    assert_same(query.run(cut_short, AGGREGATE).to_pylist(), ROWS)
    (row,) = query.run(cut_short, "SELECT count(DISTINCT event_id) AS d, count(*) AS n "
                                  "FROM predictions").to_pylist()  # fmt: skip
    assert row == {"d": len(ROWS), "n": len(ROWS)}


def test_hive_columns_and_maps_are_queryable(cut_short) -> None:
    sql = ("SELECT date, hour, count(*) AS n, round(sum(num_features['amount']), 6) AS amount "
           "FROM predictions GROUP BY date, hour ORDER BY date, hour")  # fmt: skip
    answer = query.run(cut_short, sql).to_pylist()
    truth: dict[tuple[str, int], list[float]] = defaultdict(list)
    from watchkeeper.tiering.layout import bucket_of

    for coords, event in ROWS:
        truth[bucket_of(coords.timestamp_ms)].append(event["num_features"]["amount"])
    assert [(str(a["date"]), a["hour"], a["n"]) for a in answer] == [
        (d, h, len(v)) for (d, h), v in sorted(truth.items())
    ]
    for a, (_, v) in zip(answer, sorted(truth.items()), strict=True):
        assert a["amount"] == pytest.approx(sum(v), rel=1e-9)


def test_an_fsspec_store_is_queried_through_duckdb() -> None:
    store = Store.open("memory://wk-query-test")
    compact(store, write_cold(store, ROWS[:600]))
    assert_same(query.run(store, AGGREGATE).to_pylist(), ROWS[:600])


def test_the_command_prints_csv_and_json(cut_short, capsys) -> None:
    assert main(["query", AGGREGATE, "--root", cut_short.url, "--format", "json"]) == 0
    assert_same([json.loads(line) for line in capsys.readouterr().out.splitlines()], ROWS)
    assert main(["query", "SELECT count(*) AS n FROM predictions", "--root", cut_short.url,
                 "--format", "csv"]) == 0  # fmt: skip
    assert capsys.readouterr().out == f"n\n{len(ROWS)}\n"
    assert main(["query", "SELECT 1 AS one", "--root", cut_short.url]) == 0
    assert capsys.readouterr().out.splitlines() == ["one", "---", "1  ", "(1 row)"]


@pytest.mark.parametrize(
    "sql, reason",
    [
        ("SELECT nope FROM predictions", 'Referenced column "nope" not found'),
        ("SELEC 1", "syntax error"),
        ("SELECT * FROM missing_topic", "missing_topic"),
        ("COPY (SELECT * FROM predictions) TO 'out.csv'", "only SELECT (or EXPLAIN)"),
        ("CREATE TABLE t AS SELECT 1", "only SELECT (or EXPLAIN)"),
        ("SELECT 1; SELECT 2", "one statement at a time"),
        ("SELECT * FROM read_csv('/etc/hostname')", "disabled by configuration"),
        ("SET enable_external_access = true", "only SELECT"),
    ],
)
def test_sql_errors_and_writes_exit_2_with_the_reason(cut_short, capsys, sql, reason) -> None:
    assert main(["query", sql, "--root", cut_short.url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and reason in err, err


def test_a_corrupt_part_is_a_clear_error(tmp_path, capsys) -> None:
    store = Store.open(str(tmp_path))
    (first, *_) = write_cold(store, ROWS[:300])
    (tmp_path / first).write_bytes(b"PAR1 this is not parquet")
    assert main(["query", "SELECT count(*) FROM predictions", "--root", str(tmp_path)]) == 2
    assert first.rsplit("/", 1)[-1] in capsys.readouterr().err


def test_every_topic_present_gets_its_view(tmp_path) -> None:
    from watchkeeper.codec import Codec
    from watchkeeper.tiering.columns import Columns, Coordinates
    from watchkeeper.tiering.layout import cold_path

    store = Store.open(str(tmp_path))
    write_cold(store, ROWS[:90])
    codec = Codec()
    for topic, record_type in (("feedback", "FeedbackEvent"), ("telemetry", "TelemetryEvent")):
        examples = list(codec.registry.examples(record_type).values())
        records = [codec.decode(codec.encode(record_type, e)).record for e in examples]
        coords = [Coordinates(f"wk.{topic}", 0, i, START + i, None) for i in range(len(records))]
        table = Columns.of(codec, record_type).table(coords, records)
        store.write(cold_path(topic, START, 0, 0, len(records) - 1), table, level=3)
        (row,) = query.run(store, f"SELECT count(*) AS n FROM {topic}").to_pylist()
        assert row == {"n": len(records)}
    assert query.topics(store) == ["feedback", "predictions", "telemetry"]


def test_a_corrupt_archive_part_is_named(cut_short, capsys) -> None:
    (archive, *_) = [p.path for p in cut_short.parts(tier="archive")]
    with open(cut_short.location(archive), "r+b") as handle:
        handle.truncate(100)  # a torn write: the footer is gone
    assert main(["query", "SELECT count(*) FROM predictions", "--root", cut_short.url]) == 2
    assert archive in capsys.readouterr().err
