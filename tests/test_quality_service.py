"""quality as a real process on a real broker: the gate blocks and unblocks (on the gates
topic and at GET /gate/<name>, which webhooks may POST to), a silent source is alerted, bad
input is dead-lettered."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Producer

from watchkeeper.codec import Codec
from watchkeeper.devstack import http_json, scrape
from watchkeeper.sdk import Emitter

from .helpers import consume, wait_for

pytestmark = pytest.mark.kafka
CODEC = Codec()
WINDOW_MS = 5_000
CONTRACT = """
defaults:
  window: 5s
  min_events: 5
  for: 1
  recover: 1
  max_age: 1h
  silence: 1h
  source_silence: 4s
  source_by: tenant
contracts:
  fraud:
    gate: fraud-training
    fields:
      features.amount: {type: number, required: true, min: 0}
"""


def start_quality(start_service, prefix: str, tmp_path: Path):
    path = tmp_path / "quality.yaml"
    path.write_text(CONTRACT)
    service = start_service(
        "services.quality",
        prefix,
        WK_QUALITY_CONTRACTS=str(path),
        WK_QUALITY_GRACE_S="0.5",
        WK_QUALITY_IDLE_S="600",  # windows close by event time only
        WK_INSTANCE_ID="it-quality",
    )
    return service, service.url  # the gate is a route of the one HTTP server


def decoded(kafka_settings, topic: str, schema: str, count: int, timeout: float = 5) -> list:
    return [
        CODEC.decode_as(schema, m.value())
        for m in consume(kafka_settings, topic, count, timeout=timeout)
    ]


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def send_window(emitter: Emitter, start: int, with_amount: bool, n: int = 10) -> None:
    for i in range(n):
        features = {"amount": 12.5 + i} if with_amount else {"other": 1.0}
        emitter.prediction(
            model="fraud",
            version="3",
            latency_ms=5.0,
            num_features=features,
            tenant="acme",
            event_time_ms=start + i * (WINDOW_MS // n),
        )
    assert emitter.flush(10) == 0


def test_a_missing_required_field_blocks_the_gate_and_its_recovery_unblocks_it(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    quality, gate_url = start_quality(start_service, prefix, tmp_path)
    raw = Producer(kafka_settings.confluent())
    raw.produce(prefix + "predictions", b"\x00not an event", key=b"fraud")
    assert raw.flush(10) == 0
    now = int(time.time() * 1000)
    w0 = now - now % WINDOW_MS - 10 * WINDOW_MS  # recent past: fresh, and ours to close
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-quality-gate")
    first = wait_for(lambda: http_json(gate_url + "/gate/fraud-training"), what="an answer")
    assert first[0] == 404  # no verdict yet: a pipeline must not run

    send_window(emitter, w0, with_amount=True)
    send_window(emitter, w0 + WINDOW_MS, with_amount=False)  # closes w0: known, unblocked
    send_window(emitter, w0 + 2 * WINDOW_MS, with_amount=True)  # closes w1: blocked
    _, body = wait_for(
        lambda: (r := http_json(gate_url + "/gate/fraud-training"))[0] == 423 and r,
        what="the gate to block",
    )
    assert body["state"] == "blocked"
    assert body["reasons"][0]["check"] == "completeness" and body["reasons"][0]["value"] == 0.0
    assert "features.amount missing" in body["reasons"][0]["detail"]

    send_window(emitter, w0 + 3 * WINDOW_MS, with_amount=True)  # closes w2 (good): unblocked
    wait_for(
        lambda: http_json(gate_url + "/gate/fraud-training")[0] == 200,
        what="the gate to unblock",
    )
    states = decoded(kafka_settings, prefix + "gates", "GateState", 3)
    assert [(g["gate"], g["state"]) for g in states] == [
        ("fraud-training", "UNBLOCKED"),
        ("fraud-training", "BLOCKED"),
        ("fraud-training", "UNBLOCKED"),
    ]
    assert states[1]["window_start_ms"] == w0 + WINDOW_MS
    alerts = decoded(kafka_settings, prefix + "alerts", "Alert", 2)
    assert [(a["labels"]["alertname"], a["status"]) for a in alerts] == [
        ("QualityGateBlocked", "FIRING"),
        ("QualityGateBlocked", "RESOLVED"),
    ]
    assert alerts[0]["fingerprint"] == alerts[1]["fingerprint"]
    reports = decoded(kafka_settings, prefix + "quality-reports", "QualityReport", 3)
    assert [(r["events"], r["completeness"]) for r in reports] == [(10, 1.0), (10, 0.0), (10, 1.0)]
    # The bad message went to the dead-letter topic with its reason; nothing else did.
    (letter,) = consume(kafka_settings, prefix + "dlq", 1)
    assert dict(letter.headers())["dlq.error.kind"] == b"not_single_object"
    samples = wait_for(lambda: scrape(quality.url + "/metrics"), what="a metrics scrape")
    assert samples[("wk_quality_gate_blocked", (("gate", "fraud-training"),))] == 0.0
    gates = wait_for(lambda: http_json(gate_url + "/gates")[1], what="the gate list")
    assert gates["fraud-training"]["state"] == "unblocked"
    emitter.close(10)
    assert quality.stop() == 0


def test_a_source_that_goes_silent_raises_a_freshness_alert(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    start_quality(start_service, prefix, tmp_path)
    emitter = Emitter(
        kafka_settings,
        prefix=prefix,
        client_id="it-quality-silence",
        producer_config={"linger.ms": 0},
    )

    def send(tenants: list[str], seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            for tenant in tenants:
                emitter.prediction(
                    model="fraud",
                    version="3",
                    latency_ms=5.0,
                    num_features={"amount": 1.0},
                    tenant=tenant,
                )
            emitter.flush(5)
            time.sleep(0.1)

    send(["steady", "flaky"], 2.0)
    silent_since = time.monotonic()
    alerts: list[dict] = []

    def fired() -> bool:
        send(["steady"], 1.0)  # the other source keeps talking all along
        alerts[:] = decoded(kafka_settings, prefix + "alerts", "Alert", 1, timeout=0.5)
        return bool(alerts)

    wait_for(fired, timeout=40, what="a DataSilent alert")
    waited = time.monotonic() - silent_since
    (alert,) = alerts
    assert alert["status"] == "FIRING"
    assert alert["labels"]["alertname"] == "DataSilent"
    assert (alert["labels"]["model"], alert["labels"]["source"]) == ("fraud", "flaky")
    assert alert["threshold"] == 4.0 and alert["value"] >= 4.0
    assert waited >= 4.0  # not before the silence was long enough
    send(["steady", "flaky"], 1.0)
    both = wait_for(
        lambda: len(got := decoded(kafka_settings, prefix + "alerts", "Alert", 2)) == 2 and got,
        what="the silence to resolve",
    )
    assert [(a["status"], a["labels"]["source"]) for a in both] == [
        ("FIRING", "flaky"),
        ("RESOLVED", "flaky"),
    ]
    emitter.close(10)


def test_a_webhook_posting_to_the_gate_gets_the_answer_a_get_gets(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    _, base = start_quality(start_service, prefix, tmp_path)
    url = base + "/gate/fraud-training"
    # What Flagger sends to a pre-rollout or confirm-promotion webhook.
    hook = {"name": "fraud", "namespace": "ml", "phase": "Progressing", "metadata": {}}
    unknown = {
        "gate": "fraud-training",
        "state": "unknown",
        "reason": "no verdict for this gate yet",
    }
    assert post_json(url, hook) == http_json(url) == (404, unknown)
    now = int(time.time() * 1000)
    w0 = now - now % WINDOW_MS - 10 * WINDOW_MS
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-quality-hook")
    send_window(emitter, w0, with_amount=True)
    send_window(emitter, w0 + WINDOW_MS, with_amount=False)  # closes w0: unblocked
    wait_for(lambda: http_json(url)[0] == 200, what="a verdict")
    assert post_json(url, hook) == http_json(url)
    send_window(emitter, w0 + 2 * WINDOW_MS, with_amount=True)  # closes w1: blocked
    wait_for(lambda: http_json(url)[0] == 423, what="the gate to block")
    status, body = post_json(url, hook)
    assert (status, body) == http_json(url)
    assert status == 423 and body["state"] == "blocked"  # non-2xx: Flagger does not go on
    assert post_json(url, {}) == (status, body)  # the body is not what names the gate
    emitter.close(10)
