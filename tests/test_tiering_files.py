"""The tiers' shared parts: the layout, the Arrow columns of every data event, the store."""

from __future__ import annotations

import pyarrow as pa
import pytest

from watchkeeper.codec import Codec
from watchkeeper.tiering.columns import Columns, Coordinates
from watchkeeper.tiering.layout import archive_path, cold_path, parse_path
from watchkeeper.tiering.store import Store

CODEC = Codec()
TS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize("record_type", ["PredictionEvent", "TelemetryEvent", "FeedbackEvent"])
def test_every_example_survives_columns_and_parquet(record_type, tmp_path) -> None:
    examples = CODEC.registry.examples(record_type)
    assert examples, record_type
    records = [CODEC.decode(CODEC.encode(record_type, e)).record for e in examples.values()]
    columns = Columns.of(CODEC, record_type)
    coordinates = [Coordinates("wk.x", 1, i, TS + i, b"k") for i in range(len(records))]
    store = Store.open(str(tmp_path))
    path = cold_path("x", TS, 1, 0, len(records) - 1)
    store.write(path, columns.table(coordinates, records), level=3)
    back = list(columns.rows(store.read(path)))
    assert [c for c, _ in back] == coordinates
    for (_, event), original in zip(back, records, strict=True):
        assert event == original
        assert CODEC.encode(record_type, event) == CODEC.encode(record_type, original)


def test_an_older_file_gets_the_defaults_of_fields_it_lacks() -> None:
    columns = Columns.of(CODEC, "PredictionEvent")
    table = columns.table(
        [Coordinates("wk.p", 0, 0, TS, None)],
        [{"event_id": "e", "event_time_ms": TS, "model": "m", "version": "1",
          "latency_ms": 1.0, "variant": "", "segments": {}, "num_features": {},
          "cat_features": {}, "status": "OK", "cache_hit": False, "fallback_used": False}],
    )  # fmt: skip
    older = table.drop_columns(["fallback_used", "cache_hit"])
    (_, event), = columns.rows(older)  # fmt: skip
    assert event["fallback_used"] is False and event["cache_hit"] is False


def test_readers_skip_the_cold_parts_an_archive_part_replaced(tmp_path) -> None:
    store = Store.open(f"file://{tmp_path}")
    table = pa.table({"x": [1]})
    cold = [cold_path("p", TS + h * 3_600_000, 0, h * 10, h * 10 + 9) for h in range(3)]
    for path in cold:
        store.write(path, table, level=3)
    assert [p.path for p in store.readable("p")] == sorted(cold)
    # Compaction wrote the archive part, then stopped before deleting what it replaced.
    merged = archive_path("p", "2026-01-01", 0, 0, 19)
    store.write(merged, table, level=19, sources=cold[:2])
    assert [p.path for p in store.readable("p")] == [merged, cold[2]]
    # A time range takes the parts whose bucket overlaps it.
    assert [p.path for p in store.readable("p", since_ms=TS + 2 * 3_600_000)] == [merged, cold[2]]
    assert store.readable("p", until_ms=TS) == []


def test_a_temporary_or_stray_file_is_never_a_part(tmp_path) -> None:
    store = Store.open(str(tmp_path))
    directory = tmp_path / "cold/topic=p/date=2026-01-01/hour=00"
    directory.mkdir(parents=True)
    (directory / ".p0000-x.parquet.1234.tmp").write_bytes(b"half")
    (directory / "notes.txt").write_text("hello")
    assert store.parts() == []
    assert parse_path("cold/topic=p/date=2026-1-1/hour=0/p0-1-2.parquet") is None


def test_an_fsspec_url_is_a_store() -> None:
    store = Store.open("memory://wk-tiering-test")
    path = cold_path("p", TS, 2, 5, 6)
    store.write(path, pa.table({"x": [1, 2]}), level=3)
    assert [p.path for p in store.parts()] == [path]
    assert store.read(path).num_rows == 2
    store.delete(path)
    store.delete(path)  # twice: a retried step
    assert store.parts() == []


def test_offsets_that_are_not_a_range_are_refused() -> None:
    with pytest.raises(ValueError, match="not a range"):
        cold_path("p", TS, 0, 9, 3)
