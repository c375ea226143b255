"""fairness: throughput beside the raw ceiling of the same run.

The same pre-loaded topic is read twice: by a bare confluent-kafka batch consumer that
only decodes (the ceiling, ``throughput.ceiling``), then by ``python -m services.fairness``
counting every decision for two protected attributes and holding it for its label
(``PendingPredictions`` and its changelog, as in production), in transactions.
Ratio = fairness / ceiling.

Writes ``loadtest/results/fairness.json``: events_per_s, ceiling_events_per_s, ratio.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from watchkeeper.settings import KafkaSettings

from .harness import write_results
from .throughput import CATEGORIES, EVENTS, FEATURES, fresh_prefix, loading, measure, rate_table

MODELS = 8
SETTINGS = """
defaults:
  window: 10s
  protected: [gender, age_band]
  favorable: [approve]
  join_labels: true
"""
GENDERS = ("f", "m", "x")
AGES = ("18-29", "30-44", "45-64", "65+")


def preload(settings: KafkaSettings, prefix: str) -> None:
    now = int(time.time() * 1000) - 120_000  # two minutes of traffic, ending now
    with loading(settings, prefix, "fairness") as emitter:
        for i in range(EVENTS):
            emitter.prediction(
                model=f"model-{i % MODELS}",
                version="1",
                latency_ms=5.0,
                label="approve" if i % 3 else "deny",
                num_features=FEATURES,
                cat_features=CATEGORIES,
                segments={"gender": GENDERS[i % 3], "age_band": AGES[i % 4]},
                event_time_ms=now + i * 120_000 // EVENTS,
            )


def run(kafka_bootstrap: str) -> dict[str, float]:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = fresh_prefix(settings)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "fairness.yaml"
        config.write_text(SETTINGS)
        env = {"WK_FAIRNESS_CONFIG": str(config), "WK_FAIRNESS_IDLE_S": "600"}
        preload(settings, prefix)
        figures = measure(settings, prefix, "services.fairness", env, Path(tmp) / "fairness.log")
    title = (
        f"fairness: {EVENTS:,} predictions ({MODELS} models, 2 protected attributes, "
        "each held for its label), one process"
    )
    print(rate_table(title, "services.fairness", figures))
    print(f"-> {write_results('fairness', figures)}")
    return figures
