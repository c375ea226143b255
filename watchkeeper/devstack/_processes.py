"""Running the system locally: a Kafka for one run and services as real processes.

Shared by the tests, the benchmarks and the demo, so that all three start things the way
production does (``python -m services.<name>`` with settings in the environment).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .._paths import REPO_ROOT
from ..local_kafka import LocalKafka, ensure_jars, free_port


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


class ServiceProcess:
    """A service started with ``python -m <module>``; its output goes to ``log_path``."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path) -> None:
        self.module = module
        self.http_port = int(env.get("WK_HTTP_PORT") or free_port())
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env, "WK_HTTP_PORT": str(self.http_port)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metric(self, name: str, **labels: str) -> float:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.module} exited:\n{self.logs()[-4000:]}")
        return scrape(self.url + "/metrics").get((name, tuple(sorted(labels.items()))), 0.0)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited early:\n{self.logs()[-4000:]}")
            with contextlib.suppress(OSError):
                status, _ = http_json(self.url + "/healthz", timeout=1)
                if status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.module} not healthy in {timeout} s:\n{self.logs()[-4000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` s; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to commit or clean up."""
        self.process.kill()
        self.process.wait()
        self._log.close()
