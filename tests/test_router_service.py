"""The router as a real process against a real broker and a real HTTP receiver: one
notification per change, retries that never delay another receiver, no retry on a 4xx,
bad input on the dead-letter topic, and restarts (clean, or SIGKILL mid-burst) that
neither lose a pending notification nor repeat a delivered one."""

from __future__ import annotations

import json
import time

import pytest

from watchkeeper.devstack import Received, Response

from .helpers import consume
from .test_router_support import (
    CODEC,
    SIMPLE,
    Alerts,
    read_to_end,
    receiver,
    routing_file,
    start_router,
)

pytestmark = pytest.mark.kafka
__all__ = ["receiver"]
MAX_IN_FLIGHT = 8


def group_keys(requests: list[Received]) -> list[str]:
    return [r.body["groupKey"] for r in requests if isinstance(r.body, dict)]


def test_firing_then_resolved_gives_one_of_each(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    alerts = Alerts(kafka_settings, prefix)
    router = start_router(start_service, prefix, routing_file(tmp_path, SIMPLE), receiver)

    fired = alerts.fire("fp-1", severity="page")
    (first,) = receiver.wait_for(1, "/oncall", timeout=10)
    # group_wait 0s: the router's share of "threshold crossed -> webhook" is milliseconds.
    assert first.at - fired["event_time_ms"] / 1000 < 1.0
    body = first.body
    assert (body["version"], body["status"], body["receiver"]) == ("4", "firing", "oncall")
    assert body["groupKey"] == '{}:{alertname="HighLatencyP99", model="fraud"}'
    assert body["groupLabels"] == {"alertname": "HighLatencyP99", "model": "fraud"}
    (sent,) = body["alerts"]
    assert (sent["fingerprint"], sent["status"], sent["endsAt"]) == (
        "fp-1",
        "firing",
        "0001-01-01T00:00:00Z",
    )
    assert len(first.headers["idempotency-key"]) == 32

    alerts.resolve("fp-1", severity="page")
    received = receiver.wait_for(2, "/oncall", timeout=10)
    assert [r.body["status"] for r in received] == ["firing", "resolved"]
    assert received[1].body["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert received[1].headers["idempotency-key"] != first.headers["idempotency-key"]

    time.sleep(2.5)  # two more group intervals: nothing new, nothing sent
    assert len(receiver.requests("/oncall")) == 2
    labels = {"receiver": "oncall", "integration": "webhook/0"}
    assert router.metric("wk_router_notifications_sent_total", **labels, status="firing") == 1
    assert router.metric("wk_router_notifications_sent_total", **labels, status="resolved") == 1
    assert router.metric("wk_router_alerts_received_total", status="firing") == 1
    assert router.metric("wk_router_delivery_latency_seconds_count", **labels) == 2
    assert router.metric("wk_router_active_groups") == 0
    assert router.stop() == 0


TWO_RECEIVERS = """
route:
  receiver: steady
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: ['team="risk"']
      receiver: flaky
      continue: true
    - matchers: ['team="risk"']
      receiver: steady
receivers:
  - name: steady
    webhook_configs: [{url: "${RX}/steady"}]
  - name: flaky
    webhook_configs: [{url: "${RX}/flaky"}]
"""


def test_a_flaky_receiver_is_retried_and_never_delays_another(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    receiver.script("/flaky", [Response(500, delay_s=0.3), Response(500, delay_s=0.3)])
    alerts = Alerts(kafka_settings, prefix)
    router = start_router(start_service, prefix, routing_file(tmp_path, TWO_RECEIVERS), receiver)

    fired = alerts.fire("fp-1", team="risk")
    (steady,) = receiver.wait_for(1, "/steady", timeout=10)
    flaky = receiver.wait_for(1, "/flaky", timeout=10)
    assert [r.status for r in receiver.requests("/flaky")] == [500, 500, 200]
    # The steady receiver had its notification before the flaky one even answered once.
    assert steady.at - fired["event_time_ms"] / 1000 < 0.3
    assert steady.at < receiver.requests("/flaky")[0].at + 0.3
    assert flaky[0].at > steady.at + 0.5  # two 500s of 0.3 s each came first
    attempts = receiver.requests("/flaky")
    assert len({r.headers["idempotency-key"] for r in attempts}) == 1
    assert all(r.body == attempts[0].body for r in attempts)

    time.sleep(1.0)
    assert len(receiver.requests("/flaky")) == 3
    assert len(receiver.requests("/steady")) == 1
    flaky_labels = {"receiver": "flaky", "integration": "webhook/0"}
    assert (
        router.metric(
            "wk_router_notification_attempts_total", **flaky_labels, result="server_error"
        )
        == 2
    )
    assert (
        router.metric("wk_router_notification_attempts_total", **flaky_labels, result="success")
        == 1
    )
    assert router.metric("wk_router_notifications_sent_total", **flaky_labels, status="firing") == 1


def test_a_client_error_is_not_retried(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    receiver.script("/oncall", [400])
    # A rejected notification is tried again at the group's next flush (as Alertmanager
    # does); an hour away here, so what is seen is the retry policy alone.
    config = routing_file(tmp_path, SIMPLE.replace("group_interval: 1s", "group_interval: 1h"))
    router = start_router(start_service, prefix, config, receiver)
    Alerts(kafka_settings, prefix).fire("fp-1")
    receiver.wait_for(1, "/oncall", timeout=10, delivered_only=False)
    time.sleep(1.5)  # retries would come within 0.2 s
    about_fp1 = [
        r
        for r in receiver.requests("/oncall")
        if r.body["commonLabels"]["alertname"] != "RouterDeliveryFailed"
    ]
    assert [r.status for r in about_fp1] == [400]
    # The undeliverable notification raised the router's meta-alert, routed like any alert
    # (here to the same receiver, which takes it).
    meta = receiver.wait_for(1, "/oncall", timeout=10)
    assert meta[0].body["commonLabels"]["alertname"] == "RouterDeliveryFailed"
    labels = {"receiver": "oncall", "integration": "webhook/0"}
    assert router.metric("wk_router_notifications_failed_total", **labels, reason="rejected") == 1
    assert router.metric("wk_router_notification_attempts_total", **labels, result="rejected") == 1
    assert '"status": 400' in router.logs()


def test_bad_alerts_are_dead_lettered_once_and_routing_goes_on(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    config = routing_file(tmp_path, SIMPLE)
    router = start_router(start_service, prefix, config, receiver)
    alerts = Alerts(kafka_settings, prefix)
    good = CODEC.encode("Alert", CODEC.registry.examples("Alert")["latency_firing"])
    alerts.raw(b"\x00 not an alert")
    alerts.raw(good[:-4], key=b"4b1c55e2a1f0d3c7")
    alerts.fire("fp-after")
    receiver.wait_for(1, "/oncall", timeout=10)
    assert [r.body["alerts"][0]["fingerprint"] for r in receiver.requests("/oncall")] == [
        "fp-after"
    ]
    letters = consume(kafka_settings, prefix + "dlq", 2, timeout=15)
    kinds = sorted(dict(m.headers())["dlq.error.kind"].decode() for m in letters)
    assert kinds == ["not_single_object", "truncated"]
    assert {dict(m.headers())["dlq.service"] for m in letters} == {b"router"}
    topic = prefix + "alerts"
    assert (
        router.metric("wk_dead_letters_total", service="router", topic=topic, reason="truncated")
        == 1
    )
    assert router.stop() == 0

    # Replayed from the beginning at the next start, but not dead-lettered twice.
    start_router(start_service, prefix, config, receiver)  # healthy: replay finished
    assert len(consume(kafka_settings, prefix + "dlq", 3, timeout=3)) == 2
    assert len(receiver.requests("/oncall")) == 1


def test_a_restart_resends_nothing_and_still_knows_what_is_firing(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    config = routing_file(tmp_path, SIMPLE)
    router = start_router(start_service, prefix, config, receiver)
    alerts = Alerts(kafka_settings, prefix)
    for model in ("fraud", "chat", "eta"):
        alerts.fire(f"fp-{model}", model=model)
    receiver.wait_for(3, "/oncall", timeout=10)
    assert router.stop() == 0

    restarted = start_router(start_service, prefix, config, receiver)
    assert restarted.metric("wk_router_notification_log_entries") == 3
    time.sleep(1.5)
    assert len(receiver.requests("/oncall")) == 3
    alerts.resolve("fp-chat", model="chat")
    received = receiver.wait_for(4, "/oncall", timeout=10)
    assert received[3].body["status"] == "resolved"
    assert received[3].body["groupKey"] == '{}:{alertname="HighLatencyP99", model="chat"}'


BURST = """
route:
  receiver: oncall
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: ${RX}/burst
"""


def test_sigkill_during_a_burst_loses_nothing_and_repeats_only_unlogged_sends(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    receiver.script("/burst", [], then=Response(200, delay_s=0.08))
    config = routing_file(tmp_path, BURST)
    router = start_router(
        start_service, prefix, config, receiver, WK_ROUTER_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT)
    )
    alerts = Alerts(kafka_settings, prefix)
    expected = set()
    for i in range(100):
        alerts.fire(f"fp-{i:03d}", flush=False, model=f"m{i:03d}")
        expected.add(f'{{}}:{{alertname="HighLatencyP99", model="m{i:03d}"}}')
    alerts.producer.flush(10)

    receiver.wait_for(30, "/burst", timeout=20)
    router.kill()
    time.sleep(0.3)  # requests the receiver was still answering get recorded
    before = receiver.requests("/burst")
    delivered_before = set(group_keys([r for r in before if r.status == 200]))
    assert 30 <= len(delivered_before) < 100, "the kill must land mid-burst"
    assert len(group_keys(before)) == len(delivered_before)  # no repeat before the kill

    latest: dict[bytes, bytes | None] = {}
    for key, value in read_to_end(kafka_settings, prefix + "notification-log"):
        latest[key] = value
    logged = {json.loads(key)[1] for key, value in latest.items() if value is not None}
    assert logged <= delivered_before
    unlogged = delivered_before - logged
    # Sent but not yet in the log at the kill: at most the sends in flight.
    assert len(unlogged) <= MAX_IN_FLIGHT

    start_router(start_service, prefix, config, receiver)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if set(group_keys(receiver.delivered("/burst"))) >= expected:
            break
        time.sleep(0.1)
    time.sleep(1.0)  # anything repeated would arrive now
    after = receiver.requests("/burst")[len(before) :]
    resent = group_keys(after)

    assert delivered_before | set(resent) == expected  # nothing lost
    assert len(resent) == len(set(resent))  # nothing sent twice after the restart
    assert not set(resent) & logged  # nothing the log knew about was repeated
    repeated = set(resent) & delivered_before
    assert repeated <= unlogged and len(repeated) <= MAX_IN_FLIGHT
    first_key = {r.body["groupKey"]: r.headers["idempotency-key"] for r in before}
    for request in after:
        if request.body["groupKey"] in repeated:
            assert request.headers["idempotency-key"] == first_key[request.body["groupKey"]]


def test_sigterm_abandons_retries_and_exits_0(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    receiver.script("/oncall", [], then=500)
    router = start_router(
        start_service,
        prefix,
        routing_file(tmp_path, SIMPLE),
        receiver,
        WK_ROUTER_RETRY_BASE_S="30",
        WK_ROUTER_RETRY_MAX_BACKOFF_S="30",
        WK_ROUTER_RETRY_MAX_ATTEMPTS="100",
    )
    Alerts(kafka_settings, prefix).fire("fp-1")
    receiver.wait_for(1, "/oncall", timeout=10, delivered_only=False)
    time.sleep(0.2)  # now waiting (up to 30 s) to retry
    began = time.monotonic()
    assert router.stop() == 0
    assert time.monotonic() - began < 5
    assert '"reason": "cancelled"' in router.logs()
