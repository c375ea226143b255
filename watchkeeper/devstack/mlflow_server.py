"""A real ``mlflow server`` for the registry's MLflow interop tests (sqlite backend).

MLflow is heavy (~850 MB with pandas, scipy, scikit-learn) and only the tests use it, so it
never goes into the project's .venv: ``install()`` puts the pinned ``mlflow`` into a venv of
its own, ``.cache/mlflow-<version>``, with every transitive package pinned by
``deploy/mlflow/constraints.txt``. A stamp file holding the pins' hash makes the install
idempotent (and redone when the pins change). ``mlflow-skinny`` has no ``mlflow server``
dependencies (Flask, SQLAlchemy, alembic, uvicorn), so it is the full package.

``python -m watchkeeper.devstack.mlflow_server install`` does the install on its own;
``make test`` runs it first so that pytest's per-test timeout never covers a first install
(the same reason it fetches the Kafka jars first). ``... serve`` runs one until Ctrl-C.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._paths import REPO_ROOT, cache_dir
from ..ports import free_port

MLFLOW_VERSION = "3.17.2"  # 3.18.0's mlflow-tracing was not on PyPI yet
CONSTRAINTS = REPO_ROOT / "deploy" / "mlflow" / "constraints.txt"
INSTALL_TIMEOUT_S = 900.0


class MlflowSetupError(RuntimeError):
    """The MLflow venv did not install, or the server did not come up (message says why)."""


def venv_dir() -> Path:
    return cache_dir() / f"mlflow-{MLFLOW_VERSION}"


def _pins_hash() -> str:
    """What the stamp records: the version and the constraints, so a change reinstalls.

    >>> len(_pins_hash())
    16
    """
    digest = hashlib.sha256(MLFLOW_VERSION.encode())
    digest.update(CONSTRAINTS.read_bytes())
    return digest.hexdigest()[:16]


def mlflow_executable(venv: Path | None = None) -> Path:
    return (venv or venv_dir()) / "bin" / "mlflow"


def install(quiet: bool = True) -> Path:
    """The ``mlflow`` executable of the cache venv, installing it first if needed."""
    venv = venv_dir()
    stamp = venv / ".installed"
    want = _pins_hash()
    if stamp.exists() and stamp.read_text().strip() == want and mlflow_executable(venv).exists():
        return mlflow_executable(venv)
    # A half-done or outdated venv is thrown away rather than patched: pins are exact.
    shutil.rmtree(venv, ignore_errors=True)
    if not quiet:
        print(f"installing mlflow=={MLFLOW_VERSION} into {venv} (once; takes a minute or two)")
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            str(CONSTRAINTS),
            f"mlflow=={MLFLOW_VERSION}",
        ],
    ]
    deadline = time.monotonic() + INSTALL_TIMEOUT_S
    for step in steps:
        try:
            result = subprocess.run(
                step,
                capture_output=True,
                text=True,
                timeout=max(1.0, deadline - time.monotonic()),
            )
        except subprocess.TimeoutExpired as exc:
            raise MlflowSetupError(f"installing mlflow timed out: {' '.join(step[:4])}") from exc
        if result.returncode:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
            raise MlflowSetupError(f"installing mlflow=={MLFLOW_VERSION} failed:\n{tail}")
    stamp.write_text(want + "\n")
    return mlflow_executable(venv)


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a sqlite store in ``home`` (a temporary folder
    when None), as a context manager; ``url`` is its base URL once started.

    One worker and no job runner: the tests need the REST API only, and a 2-core machine
    should not carry MLflow's default 4 workers plus its job consumers.
    """

    def __init__(self, home: Path | None = None, port: int | None = None) -> None:
        self._own_home = home is None
        self.home = Path(home) if home else Path(tempfile.mkdtemp(prefix="wk-mlflow-"))
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.home / "mlflow-server.log"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> str:
        """Launch and wait for /health; the base URL."""
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting (several servers then come up side by side)."""
        executable = install()
        (self.home / "artifacts").mkdir(parents=True, exist_ok=True)
        command = [
            str(executable),
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.home / 'mlflow.db'}",
            "--default-artifact-root",
            str(self.home / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.log_path, "ab") as log:
            # A session of its own: stop() signals the whole group (uvicorn and its worker).
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.home,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 120.0) -> str:
        if self._process is None:
            raise MlflowSetupError("mlflow server was not launched")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MlflowSetupError(
                    f"mlflow server exited with {self._process.returncode}:\n{self._log_tail()}"
                )
            if _health(self.url):
                return self.url
            time.sleep(0.2)  # polling /health, not synchronising on time
        self.stop()
        raise MlflowSetupError(
            f"mlflow server gave no /health in {timeout:.0f} s:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 20.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> MlflowServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["install"], ["serve"]):
        print("usage: python -m watchkeeper.devstack.mlflow_server install|serve", file=sys.stderr)
        return 2
    try:
        print(install(quiet=False))
        if args == ["serve"]:
            with MlflowServer() as server:
                print(f"mlflow server at {server.url} (Ctrl-C stops it)")
                while server._process is not None and server._process.poll() is None:
                    time.sleep(1)
    except MlflowSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
