"""The reading side of the data benchmark: events written as the archive service writes
them (cold parts per partition and hour at zstd 3, compacted into archive parts per
partition and day at zstd 19), replayed into a topic end to end (transactional, read back
to the end offsets to check the count), and one DuckDB aggregate over the parts.

``measure`` is merged into ``make bench BENCH=data`` by the data benchmark; alone::

    python -m loadtest.data_replay [EVENTS]    # needs KAFKA_BOOTSTRAP_SERVERS or a local broker
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow as pa

from watchkeeper.codec import Codec
from watchkeeper.settings import KafkaSettings
from watchkeeper.tiering.columns import Columns, Coordinates
from watchkeeper.tiering.layout import HOUR_MS, archive_path, bucket_of, cold_path
from watchkeeper.tiering.store import Store

MODELS = ("fraud", "recommender", "support-chat", "ranker")
PARTITIONS = 6
AGGREGATE = (
    "SELECT model, count(*) AS n, avg(latency_ms) AS mean_ms, "
    "quantile_cont(latency_ms, 0.99) AS p99_ms FROM predictions GROUP BY model"
)


def _events(codec: Codec, count: int, start_ms: int, span_ms: int):
    rng = random.Random(16)
    offsets = [0] * PARTITIONS
    for i in range(count):
        model = MODELS[i % len(MODELS)]
        partition = (MODELS.index(model) * 3 + i // len(MODELS)) % PARTITIONS
        stamp = start_ms + i * span_ms // count
        event = {
            "event_id": f"bench-{i:08d}", "event_time_ms": stamp, "model": model,
            "version": "3", "region": "eu-west-1", "latency_ms": rng.uniform(1, 200),
            "num_features": {"amount": rng.uniform(0, 500), "age": float(i % 90)},
            "cat_features": {"channel": "web" if i % 3 else "app"}, "score": rng.random(),
            "prediction_label": "legit" if i % 50 else "fraud", "status": "OK",
        }  # fmt: skip
        record = codec.decode(codec.encode("PredictionEvent", event)).record
        yield Coordinates("wk.predictions", partition, offsets[partition], stamp,
                          model.encode()), record  # fmt: skip
        offsets[partition] += 1


def write_parts(store: Store, count: int, start_ms: int, span_ms: int) -> dict[str, float]:
    """Cold parts per partition and hour, then compacted into archive parts per day."""
    codec = Codec()
    columns = Columns.of(codec, "PredictionEvent")
    groups: dict[tuple[int, str, int], list] = {}
    for coords, record in _events(codec, count, start_ms, span_ms):
        groups.setdefault((coords.partition, *bucket_of(coords.timestamp_ms)), []).append(
            (coords, record)
        )
    cold_bytes = 0
    by_day: dict[tuple[int, str], list[str]] = {}
    for (partition, date, _), rows in sorted(groups.items()):
        offsets = [c.offset for c, _ in rows]
        path = cold_path("predictions", rows[0][0].timestamp_ms, partition, min(offsets),
                         max(offsets))  # fmt: skip
        table = columns.table([c for c, _ in rows], [r for _, r in rows])
        cold_bytes += store.write(path, table, level=3)
        by_day.setdefault((partition, date), []).append(path)
    archive_bytes = 0
    for (partition, date), paths in sorted(by_day.items()):
        table = pa.concat_tables([store.read(p) for p in paths]).sort_by("_offset")
        offsets = table.column("_offset")
        path = archive_path("predictions", date, partition, offsets[0].as_py(),
                            offsets[-1].as_py())  # fmt: skip
        archive_bytes += store.write(path, table, level=19, sources=sorted(paths))
        for source in paths:
            store.delete(source)
    return {"bytes_per_event_cold_parts": cold_bytes / count,
            "bytes_per_event_archive_parts": archive_bytes / count}  # fmt: skip


def measure(
    settings: KafkaSettings, prefix: str, workdir: Path, events: int = 200_000
) -> dict[str, float]:
    """``replay_events_per_s`` (archive parts → topic, committed) and the time of one
    aggregate over the same parts (``query_aggregate_s``)."""
    from watchkeeper import topic_admin
    from watchkeeper.devstack._offsets import read_to_end
    from watchkeeper.tiers_cli import query
    from watchkeeper.tiers_cli.checkpoint import ReplayId
    from watchkeeper.tiers_cli.replay import STATE_TOPIC, Replayer, Request

    topic_admin.apply(settings, prefix=prefix)
    store = Store.open(str(Path(workdir) / f"tiers-{uuid.uuid4().hex[:8]}"))
    # Recent timestamps: the target's retention must not delete what was just replayed.
    start_ms = (int(time.time() * 1000) // HOUR_MS - 4) * HOUR_MS
    sizes = write_parts(store, events, start_ms, 3 * HOUR_MS)
    parts = store.readable("predictions")
    target = prefix + "predictions"
    rid = ReplayId(store.url, "predictions", "all", start_ms, start_ms + 3 * HOUR_MS, target)
    request = Request(rid, store, parts, "PredictionEvent", prefix + STATE_TOPIC, batch=10_000)
    started = time.monotonic()
    summary = Replayer(settings, request).run()
    replay_s = time.monotonic() - started
    landed = len(read_to_end(settings, target, timeout=300))
    if landed != events or summary.sent != events:
        raise AssertionError(f"replayed {summary.sent}, read back {landed}, wrote {events}")
    started = time.monotonic()
    answer = query.run(store, AGGREGATE)
    query_s = time.monotonic() - started
    if sum(answer.column("n").to_pylist()) != events:
        raise AssertionError(f"the aggregate counted {answer.column('n').to_pylist()}")
    return {
        "replay_events_per_s": round(events / replay_s, 1),
        "replay_s": round(replay_s, 3),
        "query_aggregate_s": round(query_s, 4),
        "replay_events": events,
        "replay_parts": len(parts),
        **{k: round(v, 2) for k, v in sizes.items()},
    }


def main(argv: list[str]) -> int:
    import json

    from watchkeeper.devstack import kafka_for_run

    count = int(argv[0]) if argv else 200_000
    with kafka_for_run(quiet=True) as bootstrap, tempfile.TemporaryDirectory() as workdir:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        figures = measure(KafkaSettings(bootstrap_servers=bootstrap), prefix, Path(workdir),
                          count)  # fmt: skip
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
