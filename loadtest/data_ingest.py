"""Batch ingest throughput per format, for ``make bench BENCH=data``.

``measure(settings, prefix, workdir, rows)`` writes the same generated prediction rows as
CSV, JSONL and Parquet, and ingests each file into ``<prefix>predictions`` through the
whole pipeline (scan and hash, a three-step transformation — rename, cast, derive —, the
mapping, Avro encoding, transactions of 5,000 rows with their checkpoints, lineage),
returning rows per second per format: rows / the wall time of ``Ingest.run`` plus the scan.

Alone: ``python -m loadtest.data_ingest [ROWS]`` (a broker as ``make bench`` finds one).
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from watchkeeper.settings import KafkaSettings

MAPPING = """\
fields:
  event_time_ms: {column: ts, time: epoch_ms}
  model: {column: model}
  version: {column: version}
  latency_ms: latency
  score: score
  prediction_label: label
  features.amount: amount
  features.age: age
  features.channel: {column: channel, type: string}
  segments.country: country
"""
TRANSFORM = """\
source: bench
steps:
  - rename: {lat_us: latency_micros}
  - cast: {latency_micros: float, amount: float}
  - derive: {latency: "latency_micros / 1000"}
"""
COLUMNS = [
    "id",
    "ts",
    "model",
    "version",
    "lat_us",
    "score",
    "label",
    "amount",
    "age",
    "channel",
    "country",
]


def _rows(n: int) -> list[dict]:
    base = 1_796_119_200_000
    return [
        {
            "id": str(i),
            "ts": base + i,
            "model": f"model-{i % 8}",
            "version": "3",
            "lat_us": 800 + i % 5000,
            "score": (i % 1000) / 1000,
            "label": "fraud" if i % 7 else "ok",
            "amount": round(i * 0.37 % 900, 2),
            "age": 18 + i % 70,
            "channel": ("web", "app", "pos")[i % 3],
            "country": ("de", "fr", "us", "br")[i % 4],
        }
        for i in range(n)
    ]


def _write(fmt: str, path: Path, data: list[dict]) -> Path:
    if fmt == "csv":
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS)
            writer.writeheader()
            writer.writerows(data)
    elif fmt == "jsonl":
        with path.open("w") as f:
            f.writelines(json.dumps(r) + "\n" for r in data)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(data), path)
    return path


def measure(
    settings: KafkaSettings, prefix: str, workdir: str | Path, rows: int = 100_000
) -> dict[str, float]:
    """Rows per second of ``watchkeeper ingest`` per format (the topics under ``prefix`` are
    created if missing)."""
    from watchkeeper import topic_admin
    from watchkeeper.ingest import mapping, transform
    from watchkeeper.ingest.pipeline import Ingest, Options, plan
    from watchkeeper.yamlconf import load_text

    topic_admin.apply(settings, prefix=prefix)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    # A run id in the data makes every file's hash new: a kept broker never says
    # "already ingested" to a second benchmark run.
    run = uuid.uuid4().hex[:8]
    data = _rows(rows)
    for r in data:
        r["id"] = f"{run}-{r['id']}"
    results: dict[str, float] = {}
    for fmt in ("csv", "jsonl", "parquet"):
        path = _write(fmt, workdir / f"bench.{fmt}", data)
        started = time.monotonic()
        event_mapping = mapping.parse(load_text(MAPPING, "bench-mapping.yaml"), "predictions")
        steps = transform.parse(load_text(TRANSFORM, "bench-transform.yaml"), "bench")
        ingest = Ingest(
            settings,
            prefix,
            plan(str(path), event_mapping, steps, None),
            Options(progress=False),
        )
        try:
            summary = ingest.run()
        finally:
            ingest.close()
        elapsed = time.monotonic() - started
        if summary.sent != rows:
            raise RuntimeError(f"{fmt}: sent {summary.sent} of {rows} rows ({summary.as_dict()})")
        results[fmt] = round(rows / elapsed, 1)
    return results


def main(argv: list[str]) -> int:
    from watchkeeper import topic_admin
    from watchkeeper.devstack import kafka_for_run

    rows = int(argv[0]) if argv else 100_000
    with kafka_for_run() as bootstrap, tempfile.TemporaryDirectory() as workdir:
        settings = KafkaSettings(bootstrap_servers=bootstrap)
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        try:
            print(json.dumps(measure(settings, prefix, workdir, rows)))
        finally:
            topic_admin.delete_prefixed(settings, prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
