"""For the gate tests: a holdout with known metrics, the CLI as a subprocess, GateState
and Alert records on the real topics, and a command whose output is read as it comes."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import Producer

from watchkeeper.alerts import alert_record, fingerprint
from watchkeeper.codec import Codec

ROOT = Path(__file__).resolve().parents[1]


def write_holdout(path: Path) -> Path:
    """400 rows, groups a and b, 100 positives and 100 negatives each.

    ``cand``: per group 90 of the positives at 0.9 (the others 0.3) and 90 of the negatives
    at 0.1 (the others 0.6): AUC 0.99, TPR 0.9 in both groups. ``champ``: 70 and 70 of
    them: AUC 0.91. ``unfair``: as ``cand`` but group b's positives only half at 0.9
    (TPR 0.5 against 0.9: a gap of 0.4).
    """
    lines = ["y,group,cand,champ,unfair"]
    for group in ("a", "b"):
        for i in range(100):
            cand = 0.9 if i < 90 else 0.3
            unfair = cand if group == "a" else (0.9 if i < 50 else 0.3)
            lines.append(f"1,{group},{cand},{0.8 if i < 70 else 0.3},{unfair}")
        for i in range(100):
            cand = 0.1 if i < 90 else 0.6
            lines.append(f"0,{group},{cand},{0.2 if i < 70 else 0.6},{cand}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


class Running:
    """A CLI command started in the background, its stdout lines collected as they come."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper", *args],
            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line)

    def wait_for_line(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            left = deadline - time.monotonic()
            if left <= 0 or (not self._reader.is_alive() and self._queue.empty()):
                raise AssertionError(f"no line with {text!r}: {self.lines}")
            try:
                self.lines.append(self._queue.get(timeout=min(left, 1.0)))
            except queue.Empty:
                continue

    def finish(self, timeout: float = 90.0) -> tuple[int, str, str]:
        code = self.process.wait(timeout)
        self._reader.join(10)  # it ends with stdout: every line is queued by then
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return code, "".join(self.lines), self.process.stderr.read()


def publish_gate(kafka_settings, prefix: str, gate: str, state: str, value: float = 0.42) -> None:
    reasons = [] if state == "UNBLOCKED" else [
        {"check": "completeness", "value": value, "threshold": 0.99,
         "detail": "features.amount missing"}]  # fmt: skip
    now = int(time.time() * 1000)
    record = {"gate": gate, "model": "fraud", "state": state, "reasons": reasons,
              "since_ms": now, "window_start_ms": now - 60_000, "window_end_ms": now,
              "event_time_ms": now, "producer": "quality"}  # fmt: skip
    producer = Producer(kafka_settings.confluent())
    producer.produce(prefix + "gates", Codec().encode("GateState", record), key=gate.encode())
    assert producer.flush(10) == 0


def publish_alerts(kafka_settings, prefix: str, *alerts: tuple[str, str, str, str]) -> None:
    """Each alert as (alertname, model, version, FIRING|RESOLVED)."""
    codec = Codec()
    producer = Producer(kafka_settings.confluent())
    now = int(time.time() * 1000)
    for name, model, version, status in alerts:
        labels = {"alertname": name, "model": model, "version": version, "severity": "page"}
        key = fingerprint(labels)
        record = alert_record(key, status.lower(), labels, {"summary": f"{name} on {model}"},
                              1.0, 0.5, starts_at_ms=now, now_ms=now, generator="it")  # fmt: skip
        producer.produce(prefix + "alerts", codec.encode("Alert", record), key=key.encode())
    assert producer.flush(10) == 0


def latest_validation(rc, model: str, version: str) -> dict:
    return rc.get_version(model, version)["validations"][-1]
