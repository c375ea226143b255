"""engines: the same task on the Faust engine and on the batch engine, on one light stream.

counter (its spec says ``engine="faust"``) runs as ``python -m services.counter`` once per
engine (``WK_ENGINE``) on the same pre-loaded topic: 20,000 small predictions (no
features) over 12 models, produced before either starts. Each run is a fresh consumer
group reading from the start, and ends when counter's own ``wk_counter_events_total`` for
predictions reaches 20,000; a second later it must still be 20,000 (exact, or the run
fails). Two figures per run:

* events/s from the first event counted to the last (the engine's pace, start-up left
  out);
* seconds from the process's start to the last event counted (what a restarted service
  costs before it is caught up: start-up, group join, restore, the stream).

The engines alternate, three runs each; each engine's fastest run counts (the least
disturbed one on a shared machine). The ratio is Faust / batch, measured in the same run;
the decode-only batch consumer (``throughput.ceiling``) is printed for scale.

Writes ``loadtest/results/engines.json``: faust_events_per_s, batch_events_per_s, ratio,
faust_caught_up_s, batch_caught_up_s, ceiling_events_per_s, events.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from watchkeeper.devstack import ServiceProcess
from watchkeeper.settings import KafkaSettings

from .harness import table, write_results
from .throughput import ceiling, fresh_prefix, loading

EVENTS = 20_000
MODELS = 12
ROUNDS = 3
ENGINES = ("faust", "batch")


def preload(settings: KafkaSettings, prefix: str) -> None:
    with loading(settings, prefix, "engines") as emitter:
        for i in range(EVENTS):
            emitter.prediction(
                model=f"model-{i % MODELS}",
                version="1",
                latency_ms=5.0 + i % 300,
                status="ERROR" if i % 97 == 0 else "OK",
            )


def one_run(bootstrap: str, prefix: str, engine: str, log: Path) -> dict[str, float]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "WK_TOPIC_PREFIX": prefix,
        "WK_ENGINE": engine,
        # A group of its own per run: every run reads the whole topic from the start.
        "WK_CONSUMER_GROUP": f"{prefix}counter-{engine}-{uuid.uuid4().hex[:6]}",
    }
    spawned = time.perf_counter()
    service = ServiceProcess("services.counter", env, log)
    try:
        service.wait_healthy()
        started = first = None
        while True:
            done = service.metric_sum("wk_counter_events_total", topic="predictions")
            now = time.perf_counter()
            if done and started is None:
                started, first = now, done
            if done >= EVENTS:
                break
            # counter exports a few dozen series: scraping it often costs the service
            # little, and the batch engine is through 20,000 events in well under a second.
            time.sleep(0.02 if started is not None else 0.05)
        time.sleep(1.0)
        final = service.metric_sum("wk_counter_events_total", topic="predictions")
        assert final == EVENTS, f"{engine}: counted {final:.0f} of {EVENTS}, not exact"
        assert first is not None and started is not None
        # All of it between two scrapes: no pace to tell (the other runs tell it).
        rate = float("nan") if now == started else (done - first) / (now - started)
        return {"events_per_s": rate, "caught_up_s": now - spawned}
    finally:
        service.stop()


def run(kafka_bootstrap: str) -> dict[str, float]:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = fresh_prefix(settings)
    preload(settings, prefix)
    runs: dict[str, list[dict[str, float]]] = {engine: [] for engine in ENGINES}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(ROUNDS):
            for engine in ENGINES:
                log = Path(tmp) / f"counter-{engine}-{round_}.log"
                runs[engine].append(one_run(kafka_bootstrap, prefix, engine, log))
    top = ceiling(settings, prefix + "predictions", EVENTS)
    best = {
        engine: {
            "events_per_s": max(
                (r["events_per_s"] for r in found if r["events_per_s"] == r["events_per_s"]),
                default=float("nan"),
            ),
            "caught_up_s": min(r["caught_up_s"] for r in found),
        }
        for engine, found in runs.items()
    }
    figures = {
        "events": EVENTS,
        "faust_events_per_s": best["faust"]["events_per_s"],
        "batch_events_per_s": best["batch"]["events_per_s"],
        "ratio": best["faust"]["events_per_s"] / best["batch"]["events_per_s"],
        "faust_caught_up_s": best["faust"]["caught_up_s"],
        "batch_caught_up_s": best["batch"]["caught_up_s"],
        "ceiling_events_per_s": top,
        "runs": runs,
    }
    rows = [
        ["decode-only batch consumer (ceiling)", top, "", top / best["batch"]["events_per_s"]],
        *(
            [
                f"counter, WK_ENGINE={engine}",
                best[engine]["events_per_s"],
                best[engine]["caught_up_s"],
                best[engine]["events_per_s"] / best["batch"]["events_per_s"],
            ]
            for engine in ENGINES
        ),
    ]
    title = (
        f"engines: {EVENTS:,} light predictions ({MODELS} models, 6 partitions), one process, "
        f"best of {ROUNDS} runs each"
    )
    print(table(title, ["reader", "events/s", "start -> caught up s", "x batch"], rows))
    print(f"-> {write_results('engines', figures)}")
    return figures
