"""Running the system locally: a Kafka for one run, and reading a service's HTTP endpoints."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from ..local_kafka import LocalKafka, ensure_jars
from ..ports import free_port


@contextlib.contextmanager
def kafka_for_run(quiet: bool = True) -> Iterator[str]:
    """``KAFKA_BOOTSTRAP_SERVERS`` if set; else a broker started by ``make kafka-up`` if one
    answers; else a fresh broker on free ports, stopped (and its data removed) at the end."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    running = LocalKafka.from_env()
    if running.running_pid() is not None and running.reachable():
        yield running.bootstrap
        return
    ensure_jars(quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="wk-kafka-") as home:
        broker = LocalKafka(home=Path(home), port=free_port(), controller_port=free_port())
        try:
            yield broker.up()
        finally:
            broker.down()


def http_json(url: str, timeout: float = 5.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text from ``url`` as {(name, sorted label pairs): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples
