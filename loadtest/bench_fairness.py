"""fairness: throughput beside the raw ceiling of the same run.

The same pre-loaded topic is read twice: by a bare confluent-kafka batch consumer that
only decodes (the ceiling, ``bench_slo.ceiling``), then by ``python -m services.fairness``
counting every decision for two protected attributes and holding it for its label
(``PendingPredictions`` and its changelog, as in production), in transactions.
Ratio = fairness / ceiling.

Writes ``loadtest/results/fairness.json``: events_per_s, ceiling_events_per_s, ratio.
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
    emitter = Emitter(settings, prefix=prefix, client_id="bench-fairness-load", buffer_size=400_000)
    now = int(time.time() * 1000) - 120_000  # two minutes of traffic, ending now
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
    assert emitter.close(timeout=120) == 0, "the benchmark lost events while loading"


def fairness_env(bootstrap: str, prefix: str, tmp: Path) -> dict[str, str]:
    config = tmp / "fairness.yaml"
    config.write_text(SETTINGS)
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "WK_TOPIC_PREFIX": prefix,
        "WK_FAIRNESS_CONFIG": str(config),
        "WK_FAIRNESS_IDLE_S": "600",
    }


def run(kafka_bootstrap: str) -> dict[str, float]:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topics.apply(settings, prefix=prefix)
    with tempfile.TemporaryDirectory() as tmp:
        preload(settings, prefix)
        top = ceiling(settings, prefix + "predictions", EVENTS)
        ours = service_rate(
            "services.fairness",
            fairness_env(kafka_bootstrap, prefix, Path(tmp)),
            Path(tmp) / "fairness-throughput.log",
            prefix + "predictions",
            EVENTS,
        )
    print(
        table(
            f"fairness: {EVENTS:,} predictions ({MODELS} models, 2 protected attributes, "
            "each held for its label), one process",
            ["reader", "events/s", "x ceiling"],
            [
                ["decode-only batch consumer (ceiling)", top, 1.0],
                ["services.fairness", ours, ours / top],
            ],
        )
    )
    figures = {"events_per_s": ours, "ceiling_events_per_s": top, "ratio": ours / top}
    print(f"-> {write_results('fairness', figures)}")
    return figures
