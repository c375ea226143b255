"""``make demo-loop``: the fraud model's inputs drift and it retrains itself, live.

Starts (or reuses) Kafka, the ``drift``, ``registry``, ``rollout`` and ``retrain``
services, seeds fraud 1 as the champion and plays routed traffic with labels
(:mod:`loadtest.retrain_loop`): healthy, then ``amount`` shifts. The drift service asks for
a retrain; the local launcher runs ``loadtest.retrain_job`` (river, on the recent
predictions and their feedback); the candidate is registered, validated on its holdout,
approved by policy, canaried (50 %, 100 %) and promoted. A line per second shows the run
and the rollout; at the end, the run's timeline and the time from the first drifted event
to promotion. Exit 0 only if the run ended ``promoted``; every process started is stopped.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from watchkeeper import topic_admin
from watchkeeper.clients.retrain_cli import timeline
from watchkeeper.devstack import kafka_for_run
from watchkeeper.settings import KafkaSettings

from . import retrain_loop


def main() -> int:
    with kafka_for_run(quiet=False) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        prefix = f"loop{int(time.time())}."
        settings = KafkaSettings(bootstrap_servers=bootstrap)
        topic_admin.apply(settings, prefix=prefix)
        print(f"Kafka {bootstrap} | topics {prefix}*")
        stack = retrain_loop.start(bootstrap, prefix, Path(tmp))
        try:
            for service in stack.services:
                service.wait_healthy()
            retrain_loop.seed(stack.registry.url)
            print(
                f"registry {stack.registry.url} | rollout {stack.rollout.url} | "
                f"retrain {stack.retrain.url}/api/v1/runs?model=fraud\n"
            )
            outcome = retrain_loop.play(settings, prefix, stack, on_second=print)
        finally:
            for service in stack.services:
                code = service.stop()
                print(f"{service.module} stopped (exit {code})")
    return summary(outcome)


def summary(outcome: retrain_loop.Outcome) -> int:
    print(f"\nsummary: {outcome.sent:,} predictions (each with its label) sent")
    if outcome.run is None:
        print("no retraining run was started")
        return 1
    print(timeline(outcome.run))
    figures = outcome.figures()
    for name, seconds in figures.items():
        print(f"  {name:<24} {seconds:7.1f} s")
    if outcome.promoted:
        print(
            f"\nfirst drifted event -> promoted: {figures['drift_to_promotion_s']:.1f} s "
            f"(candidate {outcome.run['candidate']['version']} is fraud's champion)"
        )
        return 0
    print(f"\nthe run ended {outcome.run['state']}, not promoted")
    return 1


if __name__ == "__main__":
    sys.exit(main())
