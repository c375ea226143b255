"""Files and runs for the ingest tests: generated prediction rows in every format, the
mapping and transformation they use, and the CLI run in-process or as a process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from watchkeeper import cli
from watchkeeper.devstack._offsets import end_offsets, read_to_end

REPO = Path(__file__).resolve().parent.parent
MAPPING = """\
fields:
  event_time_ms: {column: ts, time: iso}
  model: {const: fraud}
  version: {column: version, default: "1"}
  latency_ms: latency
  score: score
  features.amount: amount
  features.channel: {column: channel, type: string}
  segments.country: country
"""
# Three steps, the benchmark's too: rename, cast, derive.
TRANSFORM = """\
source: payments
steps:
  - rename: {lat_us: latency_micros}
  - cast: {latency_micros: float}
  - name: to-ms
    derive: {latency: "latency_micros / 1000"}
"""
COLUMNS = ["id", "ts", "version", "lat_us", "score", "amount", "channel", "country"]


def rows(n: int, start: int = 0) -> list[dict]:
    return [
        {
            "id": str(i),
            "ts": f"2026-12-01T10:{(i // 60) % 60:02d}:{i % 60:02d}Z",
            "version": "2",
            "lat_us": str(1000 + i),
            "score": str(round((i % 100) / 100, 2)),
            "amount": str(i * 1.5),
            "channel": "web" if i % 2 else "app",
            "country": "de",
        }
        for i in range(start, start + n)
    ]


def write_csv(path: Path, data: list[dict]) -> Path:
    lines = [",".join(COLUMNS)] + [",".join(str(r[c]) for c in COLUMNS) for r in data]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_jsonl(path: Path, data: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in data))
    return path


def write_parquet(path: Path, data: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(data), path, row_group_size=1000)
    return path


def write_setup(tmp: Path) -> tuple[Path, Path]:
    mapping = tmp / "mapping.yaml"
    mapping.write_text(MAPPING)
    transform = tmp / "transform.yaml"
    transform.write_text(TRANSFORM)
    return mapping, transform


def ingest(bootstrap: str, prefix: str, *args: str, monkeypatch=None) -> tuple[int, str, str]:
    """``watchkeeper ingest ...`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["ingest", *args, "--prefix", prefix, "--no-progress"])
    finally:
        if old is None:
            os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        else:
            os.environ["KAFKA_BOOTSTRAP_SERVERS"] = old
    return code, out.getvalue(), err.getvalue()


def ingest_file(
    settings, prefix: str, path, mapping, *more, into: str = "predictions"
) -> tuple[int, str, str]:
    """``watchkeeper ingest PATH --into INTO --mapping MAPPING ...`` on ``settings``' broker."""
    args = (str(path), "--into", into, "--mapping", str(mapping), *map(str, more))
    return ingest(settings.bootstrap_servers, prefix, *args)


def spawn(bootstrap: str, prefix: str, *args: str, log: Path, **env: str) -> subprocess.Popen:
    """``watchkeeper ingest ...`` as a process (stderr and stdout to ``log``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "ingest", *args, "--prefix", prefix, "--no-progress"],
        cwd=REPO,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PYTHONPATH": str(REPO), **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def ends(settings, prefix: str, *topics: str) -> dict[str, dict[int, int]]:
    """End offsets per topic; asked again while a just-created topic has no leader yet."""
    from confluent_kafka import KafkaException

    from tests.helpers import wait_for

    def ask():
        try:
            return {t: end_offsets(settings, prefix + t) for t in topics}
        except KafkaException as exc:
            if exc.args[0].retriable() or "leader" in str(exc).lower():
                return None
            raise

    return wait_for(ask, 60, "end offsets")


def settled(settings, topic: str, timeout: float = 60.0) -> None:
    """Wait until no transaction is open on ``topic`` (its last stable offset has reached
    the high watermark on every partition). A commit returns once the coordinator has
    logged it; the markers reach the partitions just after, and until then a read-committed
    reader can be told it is at the end before the committed records (seen here)."""
    from confluent_kafka import IsolationLevel, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    from tests.helpers import wait_for

    admin = AdminClient(settings.confluent())
    highs = end_offsets(settings, topic)

    def stable() -> bool:
        asked = {TopicPartition(topic, p): OffsetSpec.latest() for p in highs}
        futures = admin.list_offsets(asked, isolation_level=IsolationLevel.READ_COMMITTED)
        return all(f.result().offset >= highs[tp.partition] for tp, f in futures.items())

    wait_for(stable, timeout, f"no open transaction on {topic}")


def committed(settings, topic: str) -> list:
    """Every committed record of ``topic``, read to its end offsets once it has settled."""
    settled(settings, topic)
    return read_to_end(settings, topic)


def events(settings, topic: str) -> list[dict]:
    from watchkeeper.codec import Codec

    codec = Codec()
    return [codec.decode(m.value()).record for m in committed(settings, topic)]
