"""Emitter cost per event, with and without a reachable broker, beside a bare produce().

Writes ``loadtest/results/sdk.json``: emit_median_us, emit_p99_us,
baseline_produce_median_us (and the p99s, the unreachable case and ratios).
"""

from __future__ import annotations

from confluent_kafka import Producer

from watchkeeper.codec import Codec
from watchkeeper.ports import free_port
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from .harness import per_call_us, summary, table, write_results
from .throughput import CATEGORIES, FEATURES, fresh_prefix

EVENTS = 30_000
WARMUP = 3_000


def _emit(sdk: Emitter):
    def call(i: int) -> None:
        sdk.prediction(
            model="fraud",
            version="3",
            latency_ms=12.5,
            label="legit",
            score=0.97,
            num_features=FEATURES,
            cat_features=CATEGORIES,
            region="eu-west-1",
        )

    return call


def run(kafka_bootstrap: str) -> dict[str, float]:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = fresh_prefix(settings)

    sdk = Emitter(settings, prefix=prefix, client_id="bench-sdk", buffer_size=200_000)
    per_call_us(_emit(sdk), WARMUP)
    emit = summary(per_call_us(_emit(sdk), EVENTS))
    assert sdk.close(timeout=60) == 0, "the benchmark lost events"

    # The same bytes, produced by a bare confluent-kafka producer with the same settings.
    value = Codec().encode(
        "PredictionEvent",
        {
            "event_id": "x",
            "event_time_ms": 1,
            "model": "fraud",
            "version": "3",
            "latency_ms": 12.5,
            "prediction_label": "legit",
            "score": 0.97,
            "num_features": FEATURES,
            "cat_features": CATEGORIES,
            "region": "eu-west-1",
        },
    )
    producer = Producer(
        settings.confluent(
            **{
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 200_000,
            }
        )
    )
    topic = prefix + "predictions"

    def produce(i: int) -> None:
        producer.produce(topic, value, b"fraud")
        if i % 1000 == 0:
            producer.poll(0)

    per_call_us(produce, WARMUP)
    baseline = summary(per_call_us(produce, EVENTS))
    producer.flush(60)

    down = Emitter(
        KafkaSettings(f"127.0.0.1:{free_port()}"),
        prefix=prefix,
        client_id="bench-sdk-down",
        buffer_size=10_000,
    )
    per_call_us(_emit(down), WARMUP)
    unreachable = summary(per_call_us(_emit(down), EVENTS))
    dropped = down.dropped
    down.close(timeout=0)

    rows = [
        ["bare produce() (baseline)", baseline["median"], baseline["p99"], 1.0],
        [
            "Emitter.prediction, broker up",
            emit["median"],
            emit["p99"],
            emit["median"] / baseline["median"],
        ],
        [
            "Emitter.prediction, broker down",
            unreachable["median"],
            unreachable["p99"],
            unreachable["median"] / baseline["median"],
        ],
    ]
    print(
        table(
            f"sdk: cost per event in the caller's thread, {EVENTS:,} events, 20 num + 5 cat "
            "features",
            ["call", "median us", "p99 us", "x baseline"],
            rows,
        )
    )
    print(f"   broker down: buffer 10,000, {dropped:,} oldest dropped and counted")
    figures = {
        "emit_median_us": emit["median"],
        "emit_p99_us": emit["p99"],
        "baseline_produce_median_us": baseline["median"],
        "baseline_produce_p99_us": baseline["p99"],
        "emit_unreachable_median_us": unreachable["median"],
        "emit_unreachable_p99_us": unreachable["p99"],
        "ratio_median": emit["median"] / baseline["median"],
    }
    print(f"-> {write_results('sdk', figures)}")
    return figures
