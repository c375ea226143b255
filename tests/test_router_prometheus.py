"""A real Prometheus (Debian's) alerting through the router's ``/api/v2/alerts``: one
notification per state despite the re-sends, and Alertmanager's endsAt timeout when the
re-sends stop (on the router's injected clock)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import httpx
import pytest

from services.router import amv2
from watchkeeper.devstack import debian
from watchkeeper.ports import free_port
from watchkeeper.runtime import compacted

from .helpers import wait_for
from .test_router_support import (
    CODEC,
    SIMPLE,
    TOKENS,
    Clock,
    InProcess,
    api_async,
    api_call,
    needs,
    read_to_end,
    receiver,
    routing_file,
    settle,
    start_router,
    until,
)

__all__ = ["receiver"]
PROMETHEUS = debian.binary("prometheus", "prometheus")
kafka = pytest.mark.kafka


PROMETHEUS_ROUTING = """
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: ${RX}/oncall
        send_resolved: true
"""


def rule_file(path: Path, expr: str) -> None:
    path.write_text(
        "groups:\n  - name: wk\n    rules:\n      - alert: AlwaysOn\n"
        f"        expr: {expr}\n        labels: {{severity: page}}\n"
        "        annotations: {summary: it fires at once}\n"
    )


def states_of(kafka_settings, prefix: str, key: bytes) -> list[str]:
    return [
        CODEC.decode_as("Alert", r.value)["status"]
        for r in compacted.read(kafka_settings, prefix + "alerts", 30.0)
        if r.key == key
    ]


def read_partition(kafka_settings, prefix: str, key: bytes) -> int:
    (found,) = {
        r.partition for r in compacted.read(kafka_settings, prefix + "alerts", 30.0) if r.key == key
    }
    return found


def same_partition(key: str, other: str, partitions: int = 3) -> bool:
    """librdkafka's default partitioner (consistent_random: CRC-32 of the key); the test
    checks the outcome on the topic, so a different partitioner fails loudly."""
    return zlib.crc32(key.encode()) % partitions == zlib.crc32(other.encode()) % partitions


@kafka
def test_a_real_prometheus_alerts_through_the_router_once_then_resolves(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    needs(PROMETHEUS)
    router = start_router(
        start_service, prefix, routing_file(tmp_path, PROMETHEUS_ROUTING), receiver
    )
    rules = tmp_path / "rules.yml"
    rule_file(rules, "vector(1)")
    target = router.api.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s, scrape_interval: 1s}\n"
        f"rule_files: [{rules}]\n"
        "alerting:\n  alertmanagers:\n    - api_version: v2\n"
        f"      authorization: {{credentials: {TOKENS['alertmanager']}}}\n"
        f"      static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    prometheus = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            # Re-send every 2 s: each send says endsAt = now + 8 s (4 x the delay), so a
            # slow moment of a shared machine does not time the alert out (validity.py).
            "--rules.alert.resend-delay=2s",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        (fired,) = receiver.wait_for(1, "/oncall", timeout=60)
        (alert,) = fired.body["alerts"]
        labels = {"alertname": "AlwaysOn", "severity": "page"}
        assert alert["status"] == "firing" and alert["labels"] == labels
        assert alert["fingerprint"] == amv2.alertmanager_fingerprint(labels)
        assert alert["generatorURL"].startswith("http://")
        # Prometheus re-sends the firing alert: wait until the topic holds three of its
        # states (two re-sends), each of which the router has read and routed.
        key = alert["fingerprint"].encode()
        wait_for(
            lambda: sum(k == key for k, _ in read_to_end(kafka_settings, prefix + "alerts")) >= 3,
            timeout=60,
            what="Prometheus's re-sends",
        )
        rule_file(rules, "vector(1) < 0")
        httpx.post(f"http://127.0.0.1:{port}/-/reload", timeout=10).raise_for_status()
        wait_for(
            lambda: any(r.body["status"] == "resolved" for r in receiver.delivered("/oncall")),
            timeout=60,
            what="the resolved notification",
        )
        # Prometheus re-sends the resolution too (for 15 minutes): wait for two of those
        # states on the topic, then put a barrier behind them, a new alert of the same
        # group on the same partition. Its notification comes after whatever the re-sends
        # caused (one partition is read in order, one group flushes after the other).
        states = states_of(kafka_settings, prefix, key)
        wait_for(
            lambda: states_of(kafka_settings, prefix, key)[-3:] == ["RESOLVED"] * 3,
            timeout=60,
            what="re-sent resolutions",
        )
        partition = read_partition(kafka_settings, prefix, key)
        barrier = next(
            {**labels, "instance": f"barrier-{i}"}
            for i in range(1000)
            if same_partition(
                amv2.alertmanager_fingerprint({**labels, "instance": f"barrier-{i}"}), key.decode()
            )
        )
        posted = api_call(
            router.api, "POST", "/api/v2/alerts", "alertmanager", json=[{"labels": barrier}]
        )
        assert posted.status_code == 200, posted.text
        wait_for(lambda: len(receiver.delivered("/oncall")) >= 3, timeout=60, what="the barrier")
        barrier_key = amv2.alertmanager_fingerprint(barrier).encode()
        assert read_partition(kafka_settings, prefix, barrier_key) == partition
        told = [
            sorted((a["labels"].get("instance", ""), a["status"]) for a in r.body["alerts"])
            for r in receiver.delivered("/oncall")
        ]
        # One firing notification despite the re-sends, one resolution despite its
        # re-sends, then the barrier's. A resolution re-sent while the barrier fires joins
        # the group again and may ride along in one more notification of it, exactly as
        # in Alertmanager (its nflog: a resolved alert the receiver was not told of in
        # this group's last notification): never on its own, never as firing.
        assert told[:3] == [[("", "firing")], [("", "resolved")], [(barrier["instance"], "firing")]]
        assert all(t == [("", "resolved"), (barrier["instance"], "firing")] for t in told[3:]), told
        assert len(states) >= 4  # firing at least three times, then resolved
    finally:
        prometheus.terminate()
        prometheus.wait(30)
        log.close()
        shutil.rmtree(tmp_path / "tsdb", ignore_errors=True)
    assert router.stop() == 0


@kafka
def test_a_firing_alert_not_resent_before_its_ends_at_resolves_then(
    kafka_settings, prefix, receiver
) -> None:
    """Alertmanager's timeout: Prometheus gone, its alert resolves at the endsAt it sent;
    re-sent before, it stays firing (on the router's injected clock)."""
    clock = Clock(time.time())
    routing = SIMPLE.replace("${RX}", receiver.url)
    sent: dict[str, dict] = {}

    def postable(name: str, valid_s: float) -> dict:
        sent[name] = {
            "labels": {"alertname": name, "model": "fraud"},
            "startsAt": amv2.rfc3339(int(clock() * 1000)),
            "endsAt": amv2.rfc3339(int((clock() + valid_s) * 1000)),
        }
        return sent[name]

    async def scenario() -> None:
        async with InProcess(kafka_settings, prefix, routing, {"RX": receiver.url}, clock) as r:
            url = f"http://127.0.0.1:{r.api_port}"
            answer = await api_async(
                url,
                "POST",
                "/api/v2/alerts",
                "alertmanager",
                json=[postable("Gone", 60), postable("Kept", 60)],
            )
            assert answer.status_code == 200, answer.text
            await until(lambda: len(receiver.delivered("/oncall")) >= 2, router=r)
            clock.now += 50
            # "Kept" is re-sent (a later endsAt); "Gone" is not.
            kept = await api_async(
                url, "POST", "/api/v2/alerts", "alertmanager", json=[postable("Kept", 60)]
            )
            assert kept.status_code == 200
            await until(
                lambda: (
                    r.engine.alerts[
                        amv2.alertmanager_fingerprint({"alertname": "Kept", "model": "fraud"})
                    ].event_time_ms
                    == int(clock() * 1000)
                ),
                router=r,
            )
            clock.now += 20  # past Gone's endsAt, before Kept's
            await until(lambda: len(receiver.delivered("/oncall")) >= 3, router=r)
            await settle(r)

    asyncio.run(scenario())
    told = [
        [(a["labels"]["alertname"], a["status"]) for a in req.body["alerts"]]
        for req in receiver.delivered("/oncall")
    ]
    assert sorted(told[:2]) == [[("Gone", "firing")], [("Kept", "firing")]]
    assert told[2:] == [[("Gone", "resolved")]]
    # Resolved at the endsAt Prometheus promised, as Alertmanager shows it.
    resolved = receiver.delivered("/oncall")[2].body["alerts"][0]
    assert resolved["endsAt"] == sent["Gone"]["endsAt"]
