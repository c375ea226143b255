"""drift: detection quality beside Evidently (``loadtest/drift_quality.py``), throughput
beside the decode-only ceiling, and memory per monitored feature.

Writes ``loadtest/results/drift.json`` with events_per_s, ceiling_events_per_s,
median_delay_events, evidently_median_delay_events, false_alarms_per_100k, missed_drifts,
bytes_per_feature (and more).
"""

from __future__ import annotations

import random
import tempfile
import tracemalloc
from pathlib import Path

from services.drift.config import MonitorSettings
from services.drift.monitor import ModelMonitor
from services.drift.profile import build
from services.drift.reference_cli import publish
from watchkeeper.settings import KafkaSettings

from .harness import write_results
from .throughput import EVENTS, fresh_prefix, loading, measure, rate_table

# Features drawn afresh for every event (the other benchmarks send constant ones): the
# windows, detectors and statistics must see real distributions.
NUMERIC = [f"f{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]


def row(rng: random.Random) -> tuple[dict[str, float], dict[str, str]]:
    numbers = {name: rng.gauss(i, 1.0 + i / 10) for i, name in enumerate(NUMERIC)}
    texts = {name: rng.choice("abcdefgh") for name in CATEGORICAL}
    return numbers, texts


def reference(rng: random.Random, model: str):
    rows = []
    for i in range(5000):
        numbers, texts = row(rng)
        rows.append({**numbers, **texts, "pred": "fraud" if i % 10 == 0 else "legit"})
    return build(model, "1", rows, "bench rows", prediction_column="pred")


def preload(settings: KafkaSettings, prefix: str, models: list[str]) -> None:
    rng = random.Random(1)
    with loading(settings, prefix, "drift") as emitter:
        for i in range(EVENTS):
            numbers, texts = row(rng)
            emitter.prediction(
                model=models[i % len(models)],
                version="1",
                latency_ms=5.0,
                num_features=numbers,
                cat_features=texts,
                label="fraud" if i % 10 == 0 else "legit",
            )


def bytes_per_feature() -> float:
    """Memory of one monitor (25 features + prediction, full windows) per feature."""
    rng = random.Random(2)
    ref = reference(rng, "mem")
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    monitor = ModelMonitor(("mem", "1", None), MonitorSettings(), ref)
    for i in range(5000):
        numbers, texts = row(rng)
        monitor.observe(
            {
                "num_features": numbers,
                "cat_features": texts,
                "prediction_label": "fraud" if i % 10 == 0 else "legit",
                "prediction_value": None,
                "score": None,
            }
        )
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    used = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return used / (len(NUMERIC) + len(CATEGORICAL) + 1)


def run(kafka_bootstrap: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    try:
        from . import drift_quality
    except ImportError:
        drift_quality = None
        print("drift quality: loadtest/drift_quality.py is missing, skipped")
    if drift_quality is not None:
        figures.update(drift_quality.evaluate())

    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = fresh_prefix(settings)
    models = [f"model-{i}" for i in range(4)]
    rng = random.Random(3)
    for model in models:
        publish(settings, prefix + "drift-references", reference(rng, model))
    with tempfile.TemporaryDirectory() as tmp:
        preload(settings, prefix, models)
        throughput = measure(settings, prefix, "services.drift", {}, Path(tmp) / "drift.log")
    memory = bytes_per_feature()
    title = (
        f"drift: {EVENTS:,} predictions, 20 numeric + 5 categorical features + prediction, "
        f"{len(models)} model versions, one process"
    )
    print(rate_table(title, "services.drift", throughput))
    print(f"   memory per monitored feature (window 1000, detector, counts): {memory:,.0f} bytes")
    figures.update({**throughput, "bytes_per_feature": memory})
    print(f"-> {write_results('drift', figures)}")
    return figures
