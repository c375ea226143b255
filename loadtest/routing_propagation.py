"""How long a change of a traffic split takes to reach every SDK.

``measure(bootstrap, prefix)`` creates the routing topic under ``prefix``, starts ``sdks``
emitters that have read it, then produces ``changes`` successive splits of one model (the
canary's weight moving, ``seq`` growing) and times, for each, the milliseconds from the
moment it was handed to the producer until every emitter's ``assign`` answers with its
``seq``. The samples come back sorted; ``bench_rollout`` reports their p99 as
``routing_propagation_p99_ms``.

Standalone: ``python -m loadtest.routing_propagation`` (a broker as ``make bench`` finds one).
"""

from __future__ import annotations

import time

from confluent_kafka import Producer

from watchkeeper import topic_admin
from watchkeeper.sdk import Emitter, Split, Variant
from watchkeeper.settings import KafkaSettings
from watchkeeper.topics import spec

MODEL = "propagation"
TIMEOUT_S = 30.0  # a change that has not reached every SDK by then fails the measurement


def split_at(step: int) -> Split:
    """The ``step``-th split: the canary's weight climbs from 5 % by 3 points a step
    (wrapping below 95 %), and seq is the step.

    >>> [(s.variants[1].weight, s.seq) for s in map(split_at, (1, 2, 30))]
    [(8.0, 1), (11.0, 2), (5.0, 30)]
    """
    canary = 5.0 + (step * 3) % 90
    return Split(
        MODEL,
        (Variant("baseline", "1.0.0", 100.0 - canary), Variant("canary", "1.1.0", canary)),
        rollout="propagation-bench",
        seq=step,
    )


def measure(bootstrap: str, prefix: str, sdks: int = 10, changes: int = 30) -> list[float]:
    if sdks < 1 or changes < 1:
        raise ValueError(f"sdks and changes must be at least 1, got {sdks} and {changes}")
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    topic_admin.apply(settings, [spec("routing")], prefix=prefix)
    topic = prefix + "routing"
    producer = Producer(settings.confluent(**{"enable.idempotence": True, "acks": "all"}))
    emitters = [
        Emitter(settings, prefix=prefix, client_id=f"propagation-{i}", buffer_size=10)
        for i in range(sdks)
    ]
    try:
        for emitter in emitters:
            if not emitter.wait_for_routing(TIMEOUT_S):
                raise RuntimeError(f"an SDK did not read {topic} within {TIMEOUT_S:.0f} s")
        samples = []
        for step in range(1, changes + 1):
            value = split_at(step).to_json()
            start = time.perf_counter()
            producer.produce(topic, value, MODEL.encode())
            samples.append(_until_everyone_sees(emitters, producer, step, start))
        if producer.flush(TIMEOUT_S):
            raise RuntimeError("the splits were not all delivered")
        return sorted(samples)
    finally:
        for emitter in emitters:
            emitter.close(timeout=1)


def _until_everyone_sees(
    emitters: list[Emitter], producer: Producer, seq: int, start: float
) -> float:
    waiting = list(emitters)
    while True:
        producer.poll(0)  # serves the delivery report; never waits
        waiting = [e for e in waiting if e.assign(MODEL, "probe").seq < seq]
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        if not waiting:
            return elapsed_ms
        if elapsed_ms > TIMEOUT_S * 1000:
            raise RuntimeError(f"split {seq} reached {len(emitters) - len(waiting)} SDKs only")
        # A poll interval: a tenth of a millisecond of resolution, without pinning a core.
        time.sleep(0.0001)


if __name__ == "__main__":
    import uuid

    from watchkeeper.devstack import kafka_for_run

    from .harness import percentile

    with kafka_for_run(quiet=False) as bootstrap:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        try:
            found = measure(bootstrap, prefix)
        finally:
            topic_admin.delete_prefixed(KafkaSettings(bootstrap_servers=bootstrap), prefix)
    print(
        f"routing propagation over {len(found)} changes to 10 SDKs: "
        f"p50 {percentile(found, 0.5):.1f} ms, p99 {percentile(found, 0.99):.1f} ms, "
        f"max {found[-1]:.1f} ms"
    )
