"""The archive's figures for ``make bench BENCH=data``: how fast it archives a pre-filled
topic, and the bytes per event in every tier beside JSON lines of the same events.

``measure(settings, prefix, workdir, events)`` fills ``<prefix>predictions`` with
``events`` prediction events (eight models, twelve numeric and three categorical features,
segments, scores; seeded), then runs the archive's own loop (``services.archive.app``, in
this process) over it: ``archive_events_per_s`` is the events divided by the time from the
first record consumed to the commit that reached the topic's end offsets. Then:

* ``bytes_per_event_hot``: the topic's log segments on the broker's disk (zstd,
  ``compression.type`` of the data topics); needs a broker whose ``log.dirs`` are on this
  machine (the local one), else None;
* ``bytes_per_event_cold``: the cold parts (zstd level 3, one per partition and hour);
* ``bytes_per_event_archive``: the archive parts after compacting those days (zstd 19);
* ``bytes_per_event_jsonl``: the decoded events as JSON lines, uncompressed.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from watchkeeper import topic_admin
from watchkeeper.codec import Codec
from watchkeeper.devstack._offsets import end_offsets
from watchkeeper.settings import KafkaSettings, ServiceSettings
from watchkeeper.tiering.layout import ARCHIVE, COLD, DAY_MS
from watchkeeper.tiering.store import Store

MODELS = ("fraud", "recsys", "chat", "churn", "ranker", "ocr", "asr", "pricing")
FEATURES = tuple(f"f{i:02d}" for i in range(12))


def prediction(rng: random.Random, i: int, now_ms: int) -> dict[str, Any]:
    model = MODELS[i % len(MODELS)]
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "event_time_ms": now_ms + i,
        "model": model,
        "version": f"{1 + i % 3}.0.{i % 7}",
        "variant": "canary" if i % 10 == 0 else "stable",
        "region": ("eu-west-1", "us-east-1", "ap-south-1")[i % 3],
        "tenant": f"tenant-{i % 40}",
        "use_case": "scoring",
        "segments": {"country": ("FR", "DE", "US", "IN")[i % 4], "plan": ("gold", "free")[i % 2]},
        "num_features": {f: round(rng.gauss(0, 10), 3) for f in FEATURES},
        "cat_features": {
            "channel": ("web", "app", "pos")[i % 3],
            "device": f"d{i % 9}",
            "merchant": f"m{rng.randrange(500)}",
        },
        "prediction_label": "fraud" if rng.random() < 0.03 else "legit",
        "score": round(rng.random(), 4),
        "latency_ms": round(rng.lognormvariate(2.5, 0.4), 2),
        "status": "OK",
    }


def _fill(settings: KafkaSettings, topic: str, events: int) -> int:
    """Produce the events; return the bytes of their decoded form as JSON lines."""
    codec, rng = Codec(), random.Random(16)
    producer = Producer(settings.confluent(**{"enable.idempotence": True, "acks": "all",
                                              "linger.ms": 20, "batch.size": 1 << 20}))  # fmt: skip
    now, jsonl = int(time.time() * 1000), 0
    for i in range(events):
        record = codec.decode_as(
            "PredictionEvent", codec.encode("PredictionEvent", prediction(rng, i, now))
        )
        jsonl += len(json.dumps(record, separators=(",", ":"))) + 1
        value = codec.encode("PredictionEvent", record)
        while True:
            try:
                producer.produce(topic, key=record["model"].encode(), value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0
    return jsonl


def _log_bytes(settings: KafkaSettings, topic: str) -> int | None:
    """The topic's segment files on the broker's disk, when its log.dirs are local."""
    admin = AdminClient(settings.confluent())
    brokers = admin.list_topics(timeout=10).brokers
    total, seen = 0, False
    for broker in brokers:
        resource = ConfigResource(ConfigResource.Type.BROKER, str(broker))
        configs = admin.describe_configs([resource])[resource].result(10)
        entry = configs.get("log.dirs") or configs.get("log.dir")
        for directory in (entry.value or "").split(","):
            for folder in Path(directory).glob(f"{topic}-*"):
                seen = True
                total += sum(f.stat().st_size for f in folder.glob("*.log"))
    return total if seen else None


def measure(
    settings: KafkaSettings, prefix: str, workdir: Path, events: int = 200_000
) -> dict[str, Any]:
    from services.archive.app import Archiver
    from services.archive.compaction import maintain
    from services.archive.config import ArchiveConfig
    from services.archive.policy import Retention

    topic_admin.apply(settings, prefix=prefix)  # idempotent: zstd on the data topics
    topic = prefix + "predictions"
    jsonl = _fill(settings, topic, events)
    ends = end_offsets(settings, topic)
    root = Path(workdir) / "tiers"
    service = ServiceSettings("archive", settings, prefix, f"{prefix}archive-bench")
    # Flushes by size (20,000 records of a partition) rather than by the timer, so that
    # the figure is the loop's throughput and not the flush interval.
    config = ArchiveConfig(
        service, str(root), topics=("predictions",), flush_records=20_000, flush_s=1.0
    )
    archiver = Archiver(config)
    stop = threading.Event()
    runner = threading.Thread(target=archiver.run, args=(stop,), daemon=True)
    runner.start()
    deadline = time.monotonic() + max(120.0, events / 500)
    while any(archiver.committed.get((topic, p), -1) < end for p, end in ends.items() if end):
        if time.monotonic() > deadline or not runner.is_alive():
            raise RuntimeError(f"archive did not reach {ends}: {archiver.committed}")
        time.sleep(0.05)  # a benchmark's poll of the committed offsets, not a synchronisation
    stop.set()
    runner.join(60)
    archiver.close()
    elapsed = archiver.last_commit_s - archiver.first_record_s
    store = Store.open(str(root))
    cold_parts = store.parts(COLD)
    cold = sum(store.size(p.path) for p in cold_parts)
    later = int(time.time() * 1000) + 2 * DAY_MS  # the days are over: compact them all
    started = time.monotonic()
    for partition, end in ends.items():
        maintain(store, "predictions", partition, end, Retention(0, 365 * 86400), later, 19)
    compact_s = time.monotonic() - started
    archived = sum(store.size(p.path) for p in store.parts(ARCHIVE))
    hot = _log_bytes(settings, topic)
    return {
        "events": events,
        "archive_events_per_s": round(events / elapsed, 1),
        "compact_events_per_s": round(events / compact_s, 1),
        "bytes_per_event_hot": None if hot is None else round(hot / events, 1),
        "bytes_per_event_cold": round(cold / events, 1),
        "bytes_per_event_archive": round(archived / events, 1),
        "bytes_per_event_jsonl": round(jsonl / events, 1),
        "cold_parts": len(cold_parts),
        "archive_parts": len(store.parts(ARCHIVE)),
    }


if __name__ == "__main__":  # a quick look: python -m loadtest.data_archive [events]
    import sys
    import tempfile

    from watchkeeper.devstack import kafka_for_run

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with kafka_for_run() as bootstrap:
        kafka = KafkaSettings(bootstrap_servers=bootstrap)
        run_prefix = f"bench{uuid.uuid4().hex[:6]}."
        topic_admin.apply(kafka, prefix=run_prefix)
        try:
            print(json.dumps(measure(kafka, run_prefix, Path(tempfile.mkdtemp()), count), indent=2))
        finally:
            topic_admin.delete_prefixed(kafka, run_prefix)
