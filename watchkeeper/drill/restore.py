"""The restore drill: the only cluster is lost; a fresh one is rebuilt from a backup.

A running system (slo and router on cluster p, traffic, a silence an operator set) is
backed up with ``watchkeeper backup``. Then p and every service are killed with SIGKILL.
A fresh cluster q is started, the archive restored into it, the services started on q and
traffic pointed at it; one model fails from the first event.

* **restore RTO**: the disaster to the first alert delivered from q, split into its parts
  (cluster start, restore, services ready, detection).
* the state carried over: the router's silences on q equal those on p before the disaster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .. import backup
from ..devstack import WebhookReceiver
from ..sdk import Emitter
from ..settings import KafkaSettings
from . import _stack
from ._traffic import Traffic

STEADY, VICTIM = "drill-steady", "drill-victim"
SILENCE = {"matchers": ['model="drill-maintenance"'], "duration": "2h", "comment": "drill"}


@dataclass(frozen=True)
class RestoreResult:
    rto_s: float | None
    parts_s: dict[str, float]
    archive_bytes: int
    records: int
    state_identical: bool

    def as_json(self) -> dict:
        return {
            "restore_rto_s": None if self.rto_s is None else round(self.rto_s, 2),
            "restore_parts_s": {k: round(v, 2) for k, v in self.parts_s.items()},
            "restore_archive_bytes": self.archive_bytes,
            "restore_records": self.records,
            "restore_state_identical": self.state_identical,
        }


def _api(services: _stack.Services, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(
        method,
        f"http://127.0.0.1:{services.api_port}{path}",
        headers={"Authorization": f"Bearer {_stack.TOKEN}"},
        timeout=10,
        **kwargs,
    )


def _silences(services: _stack.Services) -> list[dict]:
    body = _api(services, "GET", "/api/v1/silences").raise_for_status().json()
    silences = body["silences"] if isinstance(body, dict) else body
    return sorted(silences, key=lambda s: s.get("id", ""))


def restore_drill(
    workdir: Path,
    *,
    prefix: str = "drill.",
    rate_per_s: float = 100.0,
    alert_timeout_s: float = 120.0,
    say=print,
) -> RestoreResult:
    p, q = _stack.cluster(workdir / "p"), _stack.cluster(workdir / "q")
    receiver = WebhookReceiver().start()
    env = {"WK_TOPIC_PREFIX": prefix}
    running: list = []
    try:
        say(f"cluster p {p.up()}")
        _stack.apply_topics(p.bootstrap, prefix)
        services = _stack.start_services(
            {**env, "KAFKA_BOOTSTRAP_SERVERS": p.bootstrap}, receiver, workdir / "on-p"
        )
        running.append(services)
        services.wait_healthy()
        _api(services, "POST", "/api/v1/silences", json=SILENCE).raise_for_status()
        before = _silences(services)
        settings_p = KafkaSettings(bootstrap_servers=p.bootstrap)
        emitter = Emitter(settings_p, prefix=prefix, client_id="drill-before")
        traffic = Traffic(emitter, [STEADY], rate_per_s).start()
        _stack.wait_until(lambda: _windows(settings_p, prefix), 90, "the first slo window on p")
        traffic.stop()
        emitter.close(timeout=10)
        archive = workdir / "state.wkb"
        backup.create(settings_p, archive, prefix=prefix)
        say(f"backup written: {archive.stat().st_size} bytes")

        died_wall = time.time()
        services.kill()
        p.kill()
        say("cluster p and its services killed (SIGKILL)")
        parts: dict[str, float] = {}
        mark = time.monotonic()
        say(f"cluster q {q.up()}")
        parts["cluster_start"] = time.monotonic() - mark
        mark = time.monotonic()
        settings_q = KafkaSettings(bootstrap_servers=q.bootstrap)
        report = backup.restore(settings_q, archive, prefix=prefix)
        _stack.apply_topics(q.bootstrap, prefix)  # topics the archive had no records for
        parts["restore"] = time.monotonic() - mark
        mark = time.monotonic()
        restored = _stack.start_services(
            {**env, "KAFKA_BOOTSTRAP_SERVERS": q.bootstrap}, receiver, workdir / "on-q"
        )
        running.append(restored)
        restored.wait_healthy()
        parts["services_ready"] = time.monotonic() - mark
        after = _silences(restored)
        traffic_from = time.time()
        emitter = Emitter(settings_q, prefix=prefix, client_id="drill-after")
        traffic = Traffic(emitter, [STEADY, VICTIM], rate_per_s)
        traffic.degrade(VICTIM)
        traffic.start()
        alerted = _stack.first_alert(receiver, VICTIM, died_wall, alert_timeout_s)
        traffic.stop()
        emitter.close(timeout=5)
        rto = None if alerted is None else alerted - died_wall
        if alerted is not None:
            parts["detection"] = alerted - traffic_from
        say(
            "no alert from q within the bound"
            if rto is None
            else f"first alert from the restored cluster {rto:.1f} s after the disaster"
        )
        identical = before == after
        say(f"router silences identical after restore: {identical}")
        return RestoreResult(rto, parts, archive.stat().st_size, report.written, identical)
    finally:
        for services in running:
            services.stop()
        receiver.stop()
        for cluster in (p, q):
            cluster.down()


def _windows(settings: KafkaSettings, prefix: str) -> bool:
    from ..devstack._offsets import end_offsets

    return sum(end_offsets(settings, prefix + "windows").values()) > 0
