"""``make bench``: every ``loadtest/bench_*.py``, against one Kafka for the whole run."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

from watchkeeper.devstack import kafka_for_run
from watchkeeper.settings import KafkaSettings

from .throughput import remove_topics


def main(argv: list[str]) -> int:
    wanted = set(argv)
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    if wanted:
        names = [n for n in names if n in wanted or n.removeprefix("bench_") in wanted]
    with kafka_for_run(quiet=False) as bootstrap:
        print(f"Kafka at {bootstrap}\n")
        settings = KafkaSettings(bootstrap_servers=bootstrap)
        for name in names:
            module = importlib.import_module(f"loadtest.{name}")
            if not hasattr(module, "run"):
                continue  # a library of measurements another benchmark runs (continuity)
            start = time.monotonic()
            try:
                module.run(bootstrap)
            finally:
                remove_topics(settings)  # a kept broker must not fill up run after run
            print(f"   ({name} took {time.monotonic() - start:.0f} s)\n")
    return 0


sys.exit(main(sys.argv[1:]))
