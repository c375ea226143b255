"""``make bench BENCH=retrain``: the retraining loop of ``make demo-loop`` without the live
view (:mod:`loadtest.retrain_loop`). Writes ``loadtest/results/retrain.json`` with
``drift_to_request_s`` (first drifted event -> the run's trigger), ``request_to_candidate_s``
(-> the trainer's candidate), ``candidate_to_promoted_s`` (registered, validated, approved,
canary 50 % / 100 %) and ``drift_to_promotion_s``; raises if the run was not promoted."""

from __future__ import annotations

import tempfile
from pathlib import Path

from watchkeeper.settings import KafkaSettings

from . import retrain_loop
from .harness import write_results
from .throughput import fresh_prefix


def run(kafka_bootstrap: str) -> dict:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = fresh_prefix(settings)
    with tempfile.TemporaryDirectory() as tmp:
        stack = retrain_loop.start(kafka_bootstrap, prefix, Path(tmp))
        try:
            for service in stack.services:
                service.wait_healthy()
            retrain_loop.seed(stack.registry.url)
            outcome = retrain_loop.play(settings, prefix, stack)
        finally:
            for service in stack.services:
                service.stop()
    if not outcome.promoted:
        state = outcome.run["state"] if outcome.run else "no run"
        raise RuntimeError(f"retrain bench: the run ended {state}, not promoted")
    figures = outcome.figures()
    path = write_results("retrain", figures)
    for name, seconds in figures.items():
        print(f"  {name:<24} {seconds:7.1f} s")
    print(f"  -> {path}")
    return figures
