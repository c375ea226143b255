"""A real Prometheus (Debian's build, unpacked by watchkeeper.devstack.debian) for the tests:
127.0.0.1, a free port, storage in a temporary folder, scrape and evaluation every second.

``PrometheusServer.start(tmp, targets, rule_files)`` writes its configuration, starts it and
waits for ``/-/ready``; ``query(expr)`` and ``api(path)`` ask its HTTP API.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from watchkeeper.devstack import debian
from watchkeeper.ports import free_port

from .helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
# Grafana's $__rate_interval: four scrape intervals at least; here scrapes are 1 s apart.
RATE_INTERVAL = "15s"


def tool(name: str) -> Path:
    path = debian.binary("prometheus", name)
    if not path.exists():
        pytest.skip(
            f"{path} missing: run `python -m watchkeeper.devstack.debian install` (make test does)"
        )
    return path


def grafana_expr(expr: str) -> str:
    """A dashboard query as Prometheus runs it (Grafana substitutes its variables)."""
    return expr.replace("$__rate_interval", RATE_INTERVAL)


class PrometheusServer:
    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    @classmethod
    def start(
        cls, folder: Path, targets: dict[str, str], rule_files: list[Path] = ()
    ) -> PrometheusServer:
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in targets.items()
            ],
        }
        # JSON is YAML: no YAML writer needed.
        (folder / "prometheus.yml").write_text(json.dumps(config, indent=2))
        port = free_port()
        log = folder / "prometheus.log"
        process = subprocess.Popen(
            [
                str(tool("prometheus")),
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        server = cls(process, port, log)
        try:
            wait_for(server._ready, timeout=60, what=f"prometheus ready (log: {log})")
        except BaseException:
            server.stop()
            raise
        return server

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited {self.process.returncode}: {self.log}")
        try:
            return httpx.get(self.url + "/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, path: str, **params: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = answer.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {answer.status_code} {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr, time=f"{time.time():.3f}")["result"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
