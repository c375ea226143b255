"""``make demo``: Kafka, the counter service and two simulated models, end to end.

The full demo (SLO windows, alerts and the on-call receiver) arrives with the slice
issue; this one already runs every real part of the foundation: the local broker, topics
as code, the emitter SDK, the Faust runtime and its dead-letter topic, and /metrics.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Producer

from watchkeeper import topics
from watchkeeper.devstack import ServiceProcess, kafka_for_run
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

SECONDS = 15
MODELS = (("fraud", "3.2.0", 8.0), ("recommender", "11", 40.0))


def main() -> int:
    with kafka_for_run(quiet=False) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        prefix = f"demo{int(time.time())}."
        settings = KafkaSettings(bootstrap_servers=bootstrap)
        print(f"Kafka at {bootstrap}; topics under {prefix!r}")
        topics.apply(settings, prefix=prefix)
        counter = ServiceProcess(
            "services.counter",
            {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "WK_TOPIC_PREFIX": prefix},
            Path(tmp) / "counter.log",
        )
        try:
            counter.wait_healthy()
            print(f"counter up: {counter.url}/metrics\n")
            sent = simulate(settings, prefix, counter)
            return report(counter, prefix, sent)
        finally:
            code = counter.stop()
            print(f"counter stopped (exit {code})")


def simulate(settings: KafkaSettings, prefix: str, counter: ServiceProcess) -> int:
    rng = random.Random(7)
    sdk = Emitter(settings, prefix=prefix, client_id="demo")
    sent = 0
    end = time.monotonic() + SECONDS
    next_print = time.monotonic()
    while time.monotonic() < end:
        for model, version, median_ms in MODELS:
            failed = rng.random() < 0.02
            sdk.prediction(
                model=model,
                version=version,
                latency_ms=rng.lognormvariate(0, 0.5) * median_ms,
                status="ERROR" if failed else "OK",
                num_features={"amount": rng.expovariate(1 / 80)},
            )
            sent += 1
        time.sleep(0.002)
        if time.monotonic() >= next_print:
            next_print += 1.0
            done = counter.metric(
                "wk_events_processed_total", service="counter", topic=prefix + "predictions"
            )
            print(f"\r  sent {sent:>7,}   counted {int(done):>7,}", end="", flush=True)
    # One hostile message, to show where bad input goes.
    raw = Producer(settings.confluent())
    raw.produce(prefix + "predictions", b"\x00not an event", key=b"fraud")
    raw.flush(10)
    sdk.close(timeout=10)
    print()
    return sent


def report(counter: ServiceProcess, prefix: str, sent: int) -> int:
    topic = prefix + "predictions"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = counter.metric("wk_events_processed_total", service="counter", topic=topic)
        dead = counter.metric(
            "wk_dead_letters_total", service="counter", topic=topic, reason="not_single_object"
        )
        if done >= sent and dead >= 1:
            break
        time.sleep(0.5)
    print(
        f"\nsummary: {sent:,} predictions sent, {int(done):,} counted, "
        f"{int(dead)} dead-lettered to {prefix}dlq"
    )
    for model, version, _ in MODELS:
        ok = counter.metric(
            "wk_counter_events_total",
            topic="predictions",
            model=model,
            version=version,
            status="OK",
        )
        errors = counter.metric(
            "wk_counter_events_total",
            topic="predictions",
            model=model,
            version=version,
            status="ERROR",
        )
        print(f"  {model:<12} {version:<6} ok {int(ok):>7,}   errors {int(errors):>5,}")
    print("\n(the SLO windows, alerts and on-call receiver arrive with the next issue)")
    return 0 if done == sent and dead == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
