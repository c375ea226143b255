"""A service run as a real process (``python -m services.<name>``), supervised the way a
container runtime does it: a process that exits on its own is started again after a
backoff, and each restart is recorded (and reported to whoever asked to hear of it).

The engines end themselves when Kafka leaves them stuck (exit 75) or fenced (exit 1) and
count on exactly this to be started again; tests, benchmarks and the demo all run services
through here so that they see what production sees.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._paths import REPO_ROOT
from ..ports import free_port
from ._processes import http_json, scrape


@dataclass(frozen=True)
class Restart:
    """One restart: when the process exited, with what code, how long we waited."""

    at: float  # time.monotonic() of the exit
    exit_code: int
    backoff_s: float


@dataclass(frozen=True)
class Backoff:
    """Exponential, like Kubernetes' CrashLoopBackOff (scaled down for a laptop): the
    first restart after ``first_s``, doubling up to ``max_s``; back to ``first_s`` once a
    process has run for ``reset_after_s``.

    >>> b = Backoff(first_s=0.5, max_s=4.0)
    >>> [b.delay(n) for n in range(5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    """

    first_s: float = 0.5
    max_s: float = 10.0
    reset_after_s: float = 30.0

    def delay(self, streak: int) -> float:
        return min(self.max_s, self.first_s * 2**streak)


class ServiceProcess:
    """``python -m <module>`` with ``env``; output to ``log_path`` (appended on restarts).

    ``restart=True`` starts it again whenever it exits without being told to stop (the
    policy compose calls ``on-failure``, counting an exit 0 that nobody asked for too);
    ``on_restart(service, restart)`` hears of each restart before it happens.
    """

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        log_path: Path,
        restart: bool = False,
        backoff: Backoff | None = None,
        on_restart: Callable[[ServiceProcess, Restart], None] | None = None,
    ) -> None:
        self.module = module
        self.name = module.rsplit(".", 1)[-1]
        self.http_port = int(env.get("WK_HTTP_PORT") or free_port())
        self.env = {**os.environ, **env, "WK_HTTP_PORT": str(self.http_port)}
        self.log_path = log_path
        self.restart = restart
        self.backoff = backoff or Backoff()
        self.on_restart = on_restart
        self.restarts: list[Restart] = []
        self._stopping = threading.Event()
        # stop() and a restart must not interleave, or a process spawned as stop() returns
        # would outlive it.
        self._spawn_lock = threading.Lock()
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = self._spawn()
        self._started_at = time.monotonic()
        self._supervisor: threading.Thread | None = None
        if restart:
            self._supervisor = threading.Thread(
                target=self._supervise, name=f"supervise-{self.name}", daemon=True
            )
            self._supervisor.start()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )

    def _supervise(self) -> None:
        streak = 0
        while True:
            process = self.process
            code = process.wait()
            if self._stopping.is_set():
                return
            ran = time.monotonic() - self._started_at
            streak = 0 if ran >= self.backoff.reset_after_s else streak
            restart = Restart(time.monotonic(), code, self.backoff.delay(streak))
            streak += 1
            self.restarts.append(restart)
            if self.on_restart is not None:
                self.on_restart(self, restart)
            if self._stopping.wait(restart.backoff_s):
                return
            with self._spawn_lock:
                if self._stopping.is_set():
                    return
                self._log.write(
                    f"--- supervisor: exited with {code}; restarting after "
                    f"{restart.backoff_s:.1f} s ---\n".encode()
                )
                self._log.flush()
                self._started_at = time.monotonic()
                self.process = self._spawn()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _check_alive(self) -> None:
        if not self.restart and self.process.poll() is not None:
            raise RuntimeError(f"{self.module} exited:\n{self.logs()[-4000:]}")

    def metric(self, name: str, **labels: str) -> float:
        self._check_alive()
        return scrape(self.url + "/metrics").get((name, tuple(sorted(labels.items()))), 0.0)

    def metric_sum(self, name: str, **labels: str) -> float:
        """The sum of ``name`` over every series whose labels include ``labels``."""
        self._check_alive()
        wanted = set(labels.items())
        return sum(
            value
            for (metric, pairs), value in scrape(self.url + "/metrics").items()
            if metric == name and wanted <= set(pairs)
        )

    def health(self) -> tuple[int, dict]:
        self._check_alive()
        return http_json(self.url + "/healthz", timeout=2)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.restart and self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited early:\n{self.logs()[-4000:]}")
            with contextlib.suppress(OSError):
                status, _ = http_json(self.url + "/healthz", timeout=1)
                if status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.module} not healthy in {timeout} s:\n{self.logs()[-4000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` s; no restart; return the exit code."""
        with self._spawn_lock:
            self._stopping.set()
            process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._supervisor is not None:
            self._supervisor.join(5)
        self._log.close()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to commit or clean up. A supervised process is
        started again, as after any crash; an unsupervised one stays down."""
        if not self.restart:
            self._stopping.set()
        process = self.process
        process.kill()
        process.wait()
        if not self.restart:
            self._log.close()

    def freeze(self) -> None:
        """SIGSTOP: the process stops dead (a long GC pause, a frozen VM), holding its
        sessions and transactions open until they time out."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)


def last_words(service: ServiceProcess) -> str:
    """What the process said last before exiting: its last error or critical log line."""
    for line in reversed(service.logs().splitlines()[-200:]):
        if '"level": "critical"' in line or '"level": "error"' in line:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                extra = f" in {entry['call']}" if "call" in entry else ""
                return f"{entry.get('msg', '')}{extra}"[:200]
    return ""


def print_restart(service: ServiceProcess, restart: Restart) -> None:
    """An ``on_restart`` for the demo and the benchmarks: one line per restart."""
    why = last_words(service)
    print(
        f"  ↻ {service.name} exited with {restart.exit_code}"
        + (f" ({why})" if why else "")
        + f"; the supervisor restarts it in {restart.backoff_s:.1f} s "
        f"(restart {len(service.restarts)})",
        flush=True,
    )
