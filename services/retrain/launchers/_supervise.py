"""The local launcher's supervisor: one per run, the leader of its own process group.

Run as a script (stdlib only): ``python _supervise.py RUN_DIR LOCK_FD -- ARGV...``. It
holds the run's lock (the inherited ``LOCK_FD``) for as long as it lives, writes
``pid.json`` before starting the pipeline, sends the pipeline's output to ``log``, and
writes ``exit.json`` when it ends; so a relaunch after the service died can tell, from
files alone, whether the run is still going and how it ended.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _write(path: Path, data: dict) -> None:
    # Atomic: a reader sees the whole file or none.
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(data))
    os.replace(temp, path)


def main(argv: list[str]) -> int:
    run_dir, lock_fd = Path(argv[1]), int(argv[2])
    command = argv[4:] if argv[3:4] == ["--"] else argv[3:]
    # A handler, not SIG_IGN: handlers are reset on exec, so the pipeline still dies of
    # SIGTERM while the supervisor outlives it long enough to record its exit.
    signal.signal(signal.SIGTERM, lambda *_: None)
    _write(run_dir / "pid.json", {"pid": os.getpid(), "started": time.time()})
    with open(run_dir / "log", "ab") as log:
        try:
            child = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            reason = f"cannot start {command[0]!r}: {exc.strerror}"
            log.write(f"watchkeeper: {reason}\n".encode())
            _write(run_dir / "exit.json", {"code": 127, "reason": reason})
            return 127
        code = child.wait()
    _write(run_dir / "exit.json", {"code": code})
    os.close(lock_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
