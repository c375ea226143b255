"""Parts written the way the archive service writes them, for the tiers' readers' tests:
cold parts per partition and hour at zstd 3, archive parts per partition and day at zstd 19
naming the cold parts they replaced (``wk.sources``)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from watchkeeper.codec import Codec
from watchkeeper.tiering.columns import Columns, Coordinates
from watchkeeper.tiering.layout import HOUR_MS, archive_path, bucket_of, cold_path, parse_path
from watchkeeper.tiering.store import Store

CODEC = Codec()
MODELS = ("fraud", "recommender", "support-chat")
PARTITIONS = 6


def recent_hour_ms(hours_ago: int = 6) -> int:
    """The start of an hour a few hours back: recent enough that a replay into a topic with
    days of retention is not deleted by the broker's next retention check."""
    now = int(time.time() * 1000)
    return (now // HOUR_MS - hours_ago) * HOUR_MS


def events(
    count: int, start_ms: int, span_ms: int, seed: int = 7
) -> list[tuple[Coordinates, dict]]:
    """``count`` decoded PredictionEvents with Kafka coordinates as a producer keyed by
    model would have left them: partition by model, offsets counting up per partition,
    timestamps spread over ``[start_ms, start_ms + span_ms)`` (a few out of order)."""
    rng = random.Random(seed)
    offsets = [0] * PARTITIONS
    found = []
    for i in range(count):
        model = MODELS[i % len(MODELS)]
        partition = (MODELS.index(model) * 2 + (i // len(MODELS)) % 2) % PARTITIONS
        stamp = start_ms + i * span_ms // count
        if i % 97 == 5:  # a late record: an earlier timestamp at a later offset
            stamp = max(start_ms, stamp - HOUR_MS)
        event = {
            "event_id": f"ev-{seed}-{i:07d}", "event_time_ms": stamp, "model": model,
            "version": str(1 + i % 2), "region": rng.choice(["eu-west-1", "us-east-1"]),
            "latency_ms": round(rng.uniform(1, 300), 3), "segments": {"plan": "gold"},
            "num_features": {"amount": round(rng.uniform(0, 500), 2)},
            "cat_features": {"channel": rng.choice(["web", "app"])},
            "status": "OK" if i % 13 else "ERROR", "score": rng.random(),
        }  # fmt: skip
        record = CODEC.decode(CODEC.encode("PredictionEvent", event)).record
        coords = Coordinates("wk.predictions", partition, offsets[partition], stamp,
                             model.encode())  # fmt: skip
        offsets[partition] += 1
        found.append((coords, record))
    return found


def columns() -> Columns:
    return Columns.of(CODEC, "PredictionEvent")


def write_cold(
    store: Store, rows: Sequence[tuple[Coordinates, dict]], topic: str = "predictions"
) -> list[str]:
    """One cold part per partition and hour bucket of the records' timestamps."""
    groups: dict[tuple[int, str, int], list[tuple[Coordinates, dict]]] = {}
    for coords, record in rows:
        groups.setdefault((coords.partition, *bucket_of(coords.timestamp_ms)), []).append(
            (coords, record)
        )
    paths = []
    cols = columns()
    for (partition, _, _), group in sorted(groups.items()):
        offsets = [c.offset for c, _ in group]
        path = cold_path(topic, group[0][0].timestamp_ms, partition, min(offsets), max(offsets))
        store.write(path, cols.table([c for c, _ in group], [r for _, r in group]), level=3)
        paths.append(path)
    return paths


def compact(store: Store, cold: Sequence[str], delete: bool = True) -> list[str]:
    """Archive parts per partition and day from ``cold``; their sources deleted unless the
    compaction is to look cut short."""
    groups: dict[tuple[str, int, str], list[str]] = {}
    for path in cold:
        part = parse_path(path)
        assert part is not None
        groups.setdefault((part.topic, part.partition, part.date), []).append(path)
    written = []
    for (topic, partition, date), paths in sorted(groups.items()):
        table = pa.concat_tables([store.read(p) for p in paths]).sort_by("_offset")
        offsets = table.column("_offset").to_pylist()
        path = archive_path(topic, date, partition, min(offsets), max(offsets))
        store.write(path, table, level=19, sources=sorted(paths))
        written.append(path)
        if delete:
            for source in paths:
                store.delete(source)
    return written


def as_events(messages: Sequence[Any]) -> dict[str, tuple[dict, bytes | None, int]]:
    """{event_id: (event, key, timestamp)} of Kafka messages; fails on a doubled id."""
    found: dict[str, tuple[dict, bytes | None, int]] = {}
    for message in messages:
        event = CODEC.decode(message.value()).record
        assert event["event_id"] not in found, f"{event['event_id']} twice"
        found[event["event_id"]] = (event, message.key(), message.timestamp()[1])
    return found


def expected(rows: Sequence[tuple[Coordinates, dict]], since_ms: int | None = None,
             until_ms: int | None = None) -> dict[str, tuple[dict, bytes | None, int]]:  # fmt: skip
    return {
        r["event_id"]: (r, c.key, c.timestamp_ms)
        for c, r in rows
        if (since_ms is None or c.timestamp_ms >= since_ms)
        and (until_ms is None or c.timestamp_ms < until_ms)
    }
