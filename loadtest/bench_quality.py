"""quality: throughput beside the raw ceiling of the same run.

The same pre-loaded topic is read twice: by a bare confluent-kafka batch consumer that
only decodes (the ceiling, ``bench_slo.ceiling``), then by ``python -m services.quality``
checking every event against a contract of 10 fields and a cross-field rule, with the
duplicate check, freshness and per-source silence on, in transactions. Ratio = quality /
ceiling.

Writes ``loadtest/results/quality.json``: events_per_s, ceiling_events_per_s, ratio.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from watchkeeper import topics
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from .bench_slo import EVENTS
from .harness import table, write_results
from .throughput import ceiling, service_rate

MODELS = 8
FEATURES = {f"f{i:02d}": i * 1.5 for i in range(20)}
CATEGORIES = {f"c{i}": f"value-{i}" for i in range(5)}
CONTRACT = """
defaults:
  window: 10s
  max_age: 1h
  source_by: segments.source
  fields:
    features.f00: {type: number, required: true, min: 0, max: 100}
    features.f01: {type: number, required: true, min: 0, max: 100}
    features.f02: {type: number, required: true, min: 0, max: 100}
    features.f03: {type: integer, min: 0}
    features.f04: {type: number, min: 0}
    features.c0: {type: string, required: true, allowed: [value-0, value-1]}
    features.c1: {type: string, required: true}
    segments.country: {required: true}
    score: {required: true, min: 0, max: 1}
    prediction_label: {allowed: [fraud, legit]}
  rules:
    - features.f05 >= features.f04
"""


def preload(settings: KafkaSettings, prefix: str) -> None:
    emitter = Emitter(settings, prefix=prefix, client_id="bench-quality-load", buffer_size=400_000)
    now = int(time.time() * 1000) - 120_000  # two minutes of traffic, ending now
    for i in range(EVENTS):
        emitter.prediction(
            model=f"model-{i % MODELS}",
            version="1",
            latency_ms=5.0,
            label="fraud" if i % 10 == 0 else "legit",
            score=0.9,
            num_features=FEATURES,
            cat_features=CATEGORIES,
            segments={"country": "FR", "source": f"feed-{i % 5}"},
            event_time_ms=now + i * 120_000 // EVENTS,
        )
    assert emitter.close(timeout=120) == 0, "the benchmark lost events while loading"


def quality_env(bootstrap: str, prefix: str, tmp: Path) -> dict[str, str]:
    contracts = tmp / "quality.yaml"
    contracts.write_text(CONTRACT)
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "WK_TOPIC_PREFIX": prefix,
        "WK_QUALITY_CONTRACTS": str(contracts),
        "WK_QUALITY_GATE_PORT": "0",
        "WK_QUALITY_IDLE_S": "600",
    }


def run(kafka_bootstrap: str) -> dict[str, float]:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topics.apply(settings, prefix=prefix)
    with tempfile.TemporaryDirectory() as tmp:
        preload(settings, prefix)
        top = ceiling(settings, prefix + "predictions", EVENTS)
        ours = service_rate(
            "services.quality",
            quality_env(kafka_bootstrap, prefix, Path(tmp)),
            Path(tmp) / "quality-throughput.log",
            prefix + "predictions",
            EVENTS,
        )
    print(
        table(
            f"quality: {EVENTS:,} predictions (20 num + 5 cat features, {MODELS} models; "
            "contract of 10 fields + 1 rule), one process",
            ["reader", "events/s", "x ceiling"],
            [
                ["decode-only batch consumer (ceiling)", top, 1.0],
                ["services.quality", ours, ours / top],
            ],
        )
    )
    figures = {"events_per_s": ours, "ceiling_events_per_s": top, "ratio": ours / top}
    print(f"-> {write_results('quality', figures)}")
    return figures
