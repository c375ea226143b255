"""A JVM we start and supervise through a pid file: the local broker and MirrorMaker 2.

Both keep their pid, logs and data in one home folder. A pid file can outlive its process
and the pid be reused, so a pid counts as ours only while the process' command line
carries the marks of this home (its main class and its config or home path).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of ours is reaped and counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True
    return state != "Z"


def signal_and_wait(pid: int, sig: int, timeout: float | None) -> bool:
    """Send ``sig``; wait until the process is gone (or ``timeout``): True if gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = None if timeout is None else time.monotonic() + timeout
    while alive(pid):
        if deadline is not None and time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class PidFileProcess:
    """What a supervised JVM class shares; it names ``pid_file``, ``marks`` (the bytes its
    command line must hold) and ``log_paths`` (newest log first)."""

    pid_file: Path

    def marks(self) -> tuple[bytes, ...]:
        raise NotImplementedError

    def log_paths(self) -> tuple[Path, ...]:
        raise NotImplementedError

    def running_pid(self) -> int | None:
        """The pid if the pid file names a live process of this home."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # no /proc: trust the pid file while the pid lives
            return pid if alive(pid) else None
        if not alive(pid):
            return None
        return pid if all(mark in cmdline for mark in self.marks()) else None

    def log_tail(self, lines: int = 20) -> str:
        for path in self.log_paths():
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").strip()
                if text:
                    return "\n".join(text.splitlines()[-lines:])
        return "(no log output)"

    def down(self, timeout: float = 30.0) -> bool:
        """Stop it if it runs (SIGTERM, SIGKILL after ``timeout``): True if one ran."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        if not signal_and_wait(pid, signal.SIGTERM, timeout):
            signal_and_wait(pid, signal.SIGKILL, None)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> bool:
        """SIGKILL, as a crashed machine would: nothing flushed. True if one ran."""
        pid = self.running_pid()
        if pid is None:
            return False
        signal_and_wait(pid, signal.SIGKILL, None)
        self.pid_file.unlink(missing_ok=True)
        return True
