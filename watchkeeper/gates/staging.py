"""``gate staging``: run the integration tests against the staged version.

The command runs with ``WK_MODEL``, ``WK_VERSION`` (and ``WK_STAGING_URL`` when given) in
its environment; exit code 0 passes, anything else fails, and so does running past the
timeout (the command's whole process group is killed then). Its output, stdout and
stderr interleaved, is kept; the report shows the last lines.

>>> import sys
>>> show = "import os; print(os.environ['WK_VERSION'])"
>>> result = staging("fraud", "2", [sys.executable, "-c", show])
>>> result.passed, result.metrics["exit_code"], result.tail
(True, 0.0, '2')

Recorded: ``metrics`` ``exit_code`` (-1 on timeout) and ``duration_s``; ``details`` the
command, its exit and the tail of its output.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import time

from .report import GateResult, UsageError

TAIL_LINES = 20


def staging(
    model: str,
    version: str,
    command: list[str],
    timeout_s: float = 600.0,
    url: str | None = None,
    tail_lines: int = TAIL_LINES,
) -> GateResult:
    if not command:
        raise UsageError("give the command after --, e.g. gate staging ... -- pytest tests/it")
    env = {**os.environ, "WK_MODEL": model, "WK_VERSION": version}
    if url:
        env["WK_STAGING_URL"] = url
    started = time.monotonic()
    # A file, not a pipe: a command that fills a pipe nobody reads would hang, not fail.
    with tempfile.TemporaryFile("w+b") as out:
        try:
            process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            raise UsageError(f"cannot run {command[0]!r}: {exc.strerror}") from None
        try:
            code = process.wait(timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            # Its own session: the tests' children (a server under test) go with it.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code, timed_out = -1, True
        out.seek(0)
        text = out.read().decode(errors="replace")
    duration = time.monotonic() - started
    result = GateResult("staging", model, version)
    result.metrics = {"exit_code": float(code), "duration_s": round(duration, 3)}
    result.tail = "\n".join(text.rstrip("\n").splitlines()[-tail_lines:])
    shown = shlex.join(command)
    if timed_out:
        result.check("finished in time", f"> {timeout_s:g} s", False, f"killed: {shown}")
    else:
        result.check("exit code 0", code, code == 0, shown)
    return result
