"""quality: throughput beside the raw ceiling of the same run.

The same pre-loaded topic is read twice: by a bare confluent-kafka batch consumer that
only decodes (the ceiling, ``throughput.ceiling``), then by ``python -m services.quality``
checking every event against a contract of 10 fields and a cross-field rule, with the
duplicate check, freshness and per-source silence on, in transactions. Ratio = quality /
ceiling.

Writes ``loadtest/results/quality.json``: events_per_s, ceiling_events_per_s, ratio.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from watchkeeper.settings import KafkaSettings

from .harness import write_results
from .throughput import CATEGORIES, EVENTS, FEATURES, fresh_prefix, loading, measure, rate_table

MODELS = 8
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
    now = int(time.time() * 1000) - 120_000  # two minutes of traffic, ending now
    with loading(settings, prefix, "quality") as emitter:
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


def run(kafka_bootstrap: str) -> dict[str, float]:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = fresh_prefix(settings)
    with tempfile.TemporaryDirectory() as tmp:
        contracts = Path(tmp) / "quality.yaml"
        contracts.write_text(CONTRACT)
        env = {
            "WK_QUALITY_CONTRACTS": str(contracts),
            "WK_QUALITY_IDLE_S": "600",
        }
        preload(settings, prefix)
        figures = measure(settings, prefix, "services.quality", env, Path(tmp) / "quality.log")
    title = (
        f"quality: {EVENTS:,} predictions (20 num + 5 cat features, {MODELS} models; "
        "contract of 10 fields + 1 rule), one process"
    )
    print(rate_table(title, "services.quality", figures))
    print(f"-> {write_results('quality', figures)}")
    return figures
