"""The data pipeline: batch ingest per format, the archive service, replay, and what an
event costs in each tier beside JSON lines of the same events.

* ingest: the same generated prediction rows as CSV, JSONL and Parquet through
  ``watchkeeper ingest`` (with a three-step transformation), rows/s per format; the
  headline ``ingest_rows_per_s`` is the slowest format's;
* archive: a pre-filled topic archived to cold Parquet (first record consumed to last
  offset committed), events/s; then bytes per event in the Kafka log (hot), in the cold
  parts, in the archive parts after compaction, and as uncompressed JSON lines;
* replay: parts written the archive's way, replayed into a topic (exactly once), events/s.

Writes ``loadtest/results/data.json`` with ingest_rows_per_s, archive_events_per_s,
replay_events_per_s, bytes_per_event_hot, bytes_per_event_cold, bytes_per_event_archive,
bytes_per_event_jsonl, and the parts behind them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from watchkeeper.settings import KafkaSettings

from . import data_archive, data_ingest, data_replay
from .harness import write_results
from .throughput import fresh_prefix

HEADLINES = (
    ("ingest_rows_per_s", "rows/s"),
    ("archive_events_per_s", "events/s"),
    ("replay_events_per_s", "events/s"),
    ("bytes_per_event_hot", "B"),
    ("bytes_per_event_cold", "B"),
    ("bytes_per_event_archive", "B"),
    ("bytes_per_event_jsonl", "B"),
)


def run(bootstrap: str) -> None:
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="wk-data-") as tmp:
        work = Path(tmp)
        per_format = data_ingest.measure(settings, fresh_prefix(settings), work / "ingest")
        figures["ingest_rows_per_s_by_format"] = per_format
        figures["ingest_rows_per_s"] = min(per_format.values())
        figures |= data_archive.measure(settings, fresh_prefix(settings), work / "archive")
        figures |= data_replay.measure(settings, fresh_prefix(settings), work / "replay")
    print("\n   ingest rows/s by format: "
          + ", ".join(f"{k} {v:,.0f}" for k, v in per_format.items()))  # fmt: skip
    print("   figure                         value")
    for key, unit in HEADLINES:
        value = figures.get(key)
        shown = "none (the broker's log is not on this machine)" if value is None else (
            f"{value:>12,.1f} {unit}")  # fmt: skip
        print(f"   {key:<28} {shown}")
    jsonl = figures["bytes_per_event_jsonl"]
    for tier in ("hot", "cold", "archive"):
        value = figures.get(f"bytes_per_event_{tier}")
        if value is not None:
            print(f"   {tier:<8} {value / jsonl:6.3f} of the JSON lines' bytes")
    print(f"   wrote {write_results('data', figures)}")
