"""The local launcher: the policy's command as a subprocess, for teams without an orchestrator.

Each run gets a folder ``<state_dir>/<run_id>/`` holding ``log`` (the pipeline's stdout
and stderr), ``pid.json`` (the supervisor's pid and start time), ``exit.json`` (its exit
code, once it ended) and ``stopped`` (why we killed it: a timeout or a cancel). A small
supervisor (``_supervise.py``) sits between the service and the pipeline and holds an
exclusive ``flock`` on ``<run_id>/lock`` while it lives: the lock, not a pid (pids are
reused), says whether the run is still going, and since the supervisor inherits the lock
from the very ``fork`` that starts it, there is no moment at which a run is started but
not locked. A launch of a run whose folder already has a supervisor, or its ``pid.json``,
reattaches instead of starting the command again.

The pipeline's environment: the service's own, the policy's ``env``, and
``WK_RETRAIN_RUN_ID``, ``_MODEL``, ``_VERSION``, ``_REASONS`` (JSON), ``_DATASETS`` (JSON),
``_CALLBACK_URL`` and ``_CALLBACK_TOKEN``.

>>> import sys, tempfile
>>> launcher = LocalLauncher([sys.executable, "-c", "print('trained')"], tempfile.mkdtemp())
>>> launched = launcher.launch(RunContext("fraud-1", "fraud", "3"))
>>> launched.external_id
'fraud-1'
>>> launcher.wait(launched, timeout_s=60)
Status(state='succeeded', detail='exited with code 0')
>>> launcher.launch(RunContext("fraud-1", "fraud", "3")).detail   # the same run: not again
'already launched; it ended'
>>> (launcher.state_dir / "fraud-1" / "log").read_text()
'trained\\n'
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .base import Launched, LaunchError, RunContext, Status

_SUPERVISOR = Path(__file__).with_name("_supervise.py")


def run_env(ctx: RunContext) -> dict[str, str]:
    """The ``WK_RETRAIN_*`` variables for a run.

    >>> env = run_env(RunContext("fraud-7", "fraud", "3.2.0", reasons=[{"kind": "manual"}]))
    >>> env["WK_RETRAIN_RUN_ID"], env["WK_RETRAIN_REASONS"], env["WK_RETRAIN_DATASETS"]
    ('fraud-7', '[{"kind": "manual"}]', '[]')
    """
    return {
        "WK_RETRAIN_RUN_ID": ctx.run_id,
        "WK_RETRAIN_MODEL": ctx.model,
        "WK_RETRAIN_VERSION": ctx.version,
        "WK_RETRAIN_REASONS": json.dumps(ctx.reasons),
        "WK_RETRAIN_DATASETS": json.dumps(ctx.datasets),
        "WK_RETRAIN_CALLBACK_URL": ctx.callback_url,
        "WK_RETRAIN_CALLBACK_TOKEN": ctx.callback_token,
    }


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class LocalLauncher:
    kind = "local"

    def __init__(
        self,
        command: Sequence[str],
        state_dir: str | Path,
        *,
        timeout_s: float | None = 3600.0,
        grace_s: float = 10.0,
        env: Mapping[str, str] | None = None,
        tail_lines: int = 20,
    ) -> None:
        if not command or not all(isinstance(part, str) and part for part in command):
            raise ValueError(f"command must be a non-empty list of strings, got {command!r}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"timeout must be positive, got {timeout_s!r}")
        self.command = list(command)
        self.state_dir = Path(state_dir)
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self.env = dict(env or {})
        self.tail_lines = tail_lines
        self._mutex = threading.Lock()
        # Our own children, to reap them (a supervisor started before a restart is not ours).
        self._children: dict[str, subprocess.Popen] = {}

    # -- the interface ------------------------------------------------------------------

    def launch(self, ctx: RunContext) -> Launched:
        run_dir = self.state_dir / ctx.run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        with self._mutex:
            fd = os.open(run_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pid = self._pid(run_dir, wait_s=10.0)
                    return Launched(ctx.run_id, f"already running (pid {pid}): reattached")
                if (run_dir / "pid.json").exists() or (run_dir / "exit.json").exists():
                    return Launched(ctx.run_id, "already launched; it ended")
                env = {**os.environ, **self.env, **ctx.env, **run_env(ctx)}
                argv = self.command
                try:
                    child = subprocess.Popen(
                        [sys.executable, str(_SUPERVISOR), str(run_dir), str(fd), "--", *argv],
                        env=env,
                        pass_fds=(fd,),
                        start_new_session=True,  # its own process group: killed as one
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                except OSError as exc:
                    raise LaunchError(f"cannot start the supervisor: {exc}") from None
                self._children[ctx.run_id] = child
            finally:
                os.close(fd)  # the supervisor's copy keeps the lock
        pid = self._pid(run_dir, wait_s=10.0)
        return Launched(ctx.run_id, f"started pid {pid}: {shlex.join(self.command)}")

    def poll(self, launched: Launched) -> Status:
        run_id = launched.external_id
        run_dir = self.state_dir / run_id
        child = self._children.get(run_id)
        if child is not None and child.poll() is not None:
            del self._children[run_id]
        if self._running(run_dir):
            info = _read_json(run_dir / "pid.json") or {}
            elapsed = time.time() - float(info.get("started", time.time()))
            if self.timeout_s is not None and elapsed > self.timeout_s:
                self._stop(run_dir, f"timed out after {self.timeout_s:g} s")
                return self._ended(run_dir)
            return Status("running", f"pid {info.get('pid', '?')}, {elapsed:.0f} s")
        return self._ended(run_dir)

    def cancel(self, launched: Launched) -> str:
        run_dir = self.state_dir / launched.external_id
        if not self._running(run_dir):
            return "not running: nothing to cancel"
        return self._stop(run_dir, "cancelled")

    def wait(self, launched: Launched, timeout_s: float, every_s: float = 0.05) -> Status:
        """Poll until the run ends or ``timeout_s`` passes (for scripts and tests)."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.poll(launched)
            if status.finished or time.monotonic() >= deadline:
                return status
            time.sleep(every_s)

    # -- the run folder -----------------------------------------------------------------

    def _running(self, run_dir: Path) -> bool:
        """True while a supervisor holds the run's lock."""
        try:
            fd = os.open(run_dir / "lock", os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing also drops a lock we just took
        return False

    def _pid(self, run_dir: Path, wait_s: float) -> int | None:
        # The supervisor writes pid.json first thing; a reattach may come just before it.
        deadline = time.monotonic() + wait_s
        while True:
            info = _read_json(run_dir / "pid.json")
            if info is not None:
                return int(info["pid"])
            if time.monotonic() >= deadline or not self._running(run_dir):
                return None
            time.sleep(0.01)

    def _stop(self, run_dir: Path, reason: str) -> str:
        """SIGTERM to the run's process group, SIGKILL after the grace period."""
        stopped = run_dir / "stopped"
        if not stopped.exists():
            stopped.write_text(reason)
        pid = self._pid(run_dir, wait_s=5.0)
        if pid is None:
            return f"{reason}: no pid recorded"
        for sig, wait_s in ((signal.SIGTERM, self.grace_s), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while self._running(run_dir) and time.monotonic() < deadline:
                self._reap(run_dir.name)
                time.sleep(0.02)
            if not self._running(run_dir):
                return f"{reason}: process group {pid} stopped with {sig.name}"
        self._reap(run_dir.name)
        return f"{reason}: process group {pid} signalled"

    def _reap(self, run_id: str) -> None:
        child = self._children.get(run_id)
        if child is not None and child.poll() is not None:
            del self._children[run_id]

    def _ended(self, run_dir: Path) -> Status:
        stopped = run_dir / "stopped"
        if stopped.exists():
            return Status("failed", self._with_tail(stopped.read_text(), run_dir))
        result = _read_json(run_dir / "exit.json")
        if result is None:
            if (run_dir / "pid.json").exists():
                why = "the process ended without an exit code (its supervisor was killed)"
                return Status("failed", self._with_tail(why, run_dir))
            return Status("failed", "not launched")
        code = int(result["code"])
        if code == 0:
            return Status("succeeded", "exited with code 0")
        why = result.get("reason") or (
            f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        )
        return Status("failed", self._with_tail(why, run_dir))

    def _with_tail(self, reason: str, run_dir: Path) -> str:
        try:
            with open(run_dir / "log", "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 64 * 1024))
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return reason
        tail = lines[-self.tail_lines :]
        return f"{reason}; log tail:\n" + "\n".join(tail) if tail else reason
