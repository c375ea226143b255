"""Escalation against a real broker and real HTTP receivers.

The first tests run the router in this process on an injected clock (minutes of escalation
in a second of test); the last one runs it as a process with waits of seconds and kills it
with SIGKILL mid-escalation: no stage lost, none repeated."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from .test_router_support import (
    Alerts,
    Clock,
    InProcess,
    api_async,
    read_to_end,
    receiver,
    routing_file,
    settle,
    start_router,
    until,
)

pytestmark = pytest.mark.kafka
__all__ = ["receiver"]

POLICY = """
route:
  receiver: team
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
  escalation: page
escalation_policies:
  - name: page
    ack_timeout: 10m
    steps:
      - notify: [primary]
        wait: 5m
      - notify: [secondary]
        wait: 5m
      - open_incident: true
        notify: [commander]
receivers:
  - name: team
    webhook_configs: [{url: "${RX}/team"}]
  - name: primary
    webhook_configs: [{url: "${RX}/primary"}]
  - name: secondary
    webhook_configs: [{url: "${RX}/secondary"}]
  - name: commander
    webhook_configs: [{url: "${RX}/commander"}]
"""


def counts(receiver) -> dict[str, int]:
    return {p: len(receiver.requests(f"/{p}")) for p in ("primary", "secondary", "commander")}


def test_an_unacknowledged_alert_escalates_through_two_steps_to_an_incident(
    kafka_settings, prefix, receiver
) -> None:
    clock = Clock(time.time())

    async def scenario() -> None:
        rp = InProcess(kafka_settings, prefix, POLICY, {"RX": receiver.url}, clock)
        async with rp as router:
            Alerts(kafka_settings, prefix, clock).fire("fp-1", severity="page")
            await until(lambda: len(receiver.delivered("/primary")) == 1, router=router)
            await settle(router)
            assert counts(receiver) == {"primary": 1, "secondary": 0, "commander": 0}
            assert len(receiver.delivered("/team")) == 1  # the route's own notification
            page = receiver.requests("/primary")[0]
            assert page.headers["watchkeeper-escalation-step"] == "1/2"
            assert page.body["alerts"][0]["fingerprint"] == "fp-1"

            clock.now += 299  # just before the first wait is over
            await settle(router)
            assert counts(receiver) == {"primary": 1, "secondary": 0, "commander": 0}
            clock.now += 1
            await until(lambda: len(receiver.delivered("/secondary")) == 1, router=router)
            assert (
                receiver.requests("/secondary")[0].headers["watchkeeper-escalation-step"] == "2/2"
            )

            clock.now += 300
            await until(lambda: len(receiver.delivered("/commander")) == 1, router=router)
            await settle(router)
            assert counts(receiver) == {"primary": 1, "secondary": 1, "commander": 1}
            incident_id = receiver.requests("/commander")[0].headers["watchkeeper-incident"]

            answer = await api_async(rp.api, "GET", "/api/v1/incidents", "reader")
            assert answer.status_code == 200
            (incident,) = answer.json()["incidents"]
            assert (incident["id"], incident["status"]) == (incident_id, "open")
            assert "fp-1" in incident["alerts"]
            events = [e["event"] for e in incident["timeline"]]
            assert events[:3] == ["triggered", "escalated", "notified"]
            assert events.count("escalated") == 3  # primary, secondary, the incident's step
            assert "incident_opened" in events
            one = await api_async(rp.api, "GET", f"/api/v1/incidents/{incident_id}", "reader")
            assert one.json()["id"] == incident_id

            clock.now += 3600  # nothing more to escalate to
            await settle(router)
            assert counts(receiver) == {"primary": 1, "secondary": 1, "commander": 1}

    asyncio.run(scenario())
    # The incident is a record of its own on the compacted topic, readable by anyone.
    records = read_to_end(kafka_settings, prefix + "incidents")
    latest = json.loads(records[-1][1])
    assert latest["status"] == "open" and latest["policy"] == "page"


def test_an_acknowledged_alert_stops_escalating_and_resolve_ends_it(
    kafka_settings, prefix, receiver
) -> None:
    clock = Clock(time.time())
    no_timeout = POLICY.replace("    ack_timeout: 10m\n", "")

    async def scenario() -> None:
        rp = InProcess(kafka_settings, prefix, no_timeout, {"RX": receiver.url}, clock)
        async with rp as router:
            alerts = Alerts(kafka_settings, prefix, clock)
            alerts.fire("fp-1")
            await until(lambda: len(receiver.delivered("/primary")) == 1, router=router)

            clock.now += 60
            answer = await api_async(
                rp.api, "POST", "/api/v1/ack", "oncall", json={"fingerprint": "fp-1"}
            )
            assert answer.status_code == 200, answer.text
            (acked,) = answer.json()["acknowledged"]
            assert (acked["status"], acked["acked_by"]) == ("acknowledged", "oncall")

            for _ in range(6):  # an hour: no further stage, no incident
                clock.now += 600
                await settle(router, 0.1)
            assert counts(receiver) == {"primary": 1, "secondary": 0, "commander": 0}
            assert len(receiver.delivered("/team")) == 1  # acknowledged: no reminders either

            alerts.resolve("fp-1")
            await until(lambda: "fp-1" not in router.engine.alerts, router=router)
            clock.now += 60  # the group's next flush tells the resolution and ends it
            await until(lambda: len(receiver.delivered("/team")) == 2, router=router)
            assert receiver.requests("/team")[1].body["status"] == "resolved"
            await settle(router)
            answer = await api_async(rp.api, "GET", "/api/v1/escalations", "reader")
            assert answer.json()["escalations"] == []
            incidents = await api_async(rp.api, "GET", "/api/v1/incidents", "reader")
            assert incidents.json()["incidents"] == []  # it never became one

    asyncio.run(scenario())
    records = read_to_end(kafka_settings, prefix + "escalations")
    assert records[-1][1] is None  # the finished escalation is a tombstone


def test_an_acknowledgement_times_out_and_the_escalation_resumes(
    kafka_settings, prefix, receiver
) -> None:
    clock = Clock(time.time())

    async def scenario() -> None:
        rp = InProcess(kafka_settings, prefix, POLICY, {"RX": receiver.url}, clock)
        async with rp as router:
            Alerts(kafka_settings, prefix, clock).fire("fp-1")
            await until(lambda: len(receiver.delivered("/primary")) == 1, router=router)
            clock.now += 60
            answer = await api_async(
                rp.api, "POST", "/api/v1/ack", "oncall", json={"fingerprint": "fp-1"}
            )
            assert answer.status_code == 200
            escalation_id = answer.json()["acknowledged"][0]["id"]

            clock.now += 599  # the ack holds for 10 minutes
            await settle(router)
            assert counts(receiver) == {"primary": 1, "secondary": 0, "commander": 0}

            clock.now += 1  # ... and then lapses: the current step pages again
            await until(lambda: len(receiver.delivered("/primary")) == 2, router=router)
            assert counts(receiver)["secondary"] == 0
            clock.now += 300  # and the escalation goes on from there
            await until(lambda: len(receiver.delivered("/secondary")) == 1, router=router)

            escalations = await api_async(rp.api, "GET", "/api/v1/escalations", "reader")
            (esc,) = escalations.json()["escalations"]
            assert esc["id"] == escalation_id and esc["status"] == "triggered"
            events = [e["event"] for e in esc["timeline"]]
            assert events.index("acknowledged") < events.index("ack_expired")
            assert events[events.index("ack_expired") + 1] == "paged_again"

    asyncio.run(scenario())


SIGKILL_POLICY = POLICY.replace("wait: 5m", "wait: 3s").replace(
    "group_interval: 1m", "group_interval: 1h"
)


def wait_logged(settings, prefix: str, receivers: tuple[str, ...], timeout: float = 20) -> None:
    """Until the notification log holds an entry for each of ``receivers``."""
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        latest = dict(read_to_end(settings, prefix + "notification-log"))
        seen = {json.loads(k)[0] for k, v in latest.items() if k is not None and v is not None}
        if all(any(name in r for r in seen) for name in receivers):
            return
    raise AssertionError(f"never logged: {receivers}; the log names {sorted(seen)}")


def test_sigkill_mid_escalation_neither_loses_nor_repeats_a_step(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    config = routing_file(tmp_path, SIGKILL_POLICY)
    router = start_router(start_service, prefix, config, receiver)
    fired = Alerts(kafka_settings, prefix).fire("fp-1")
    started = fired["event_time_ms"] / 1000
    assert receiver.wait_for(1, "/primary", timeout=15)
    # The stage was written before it paged: the record is there.
    records = read_to_end(kafka_settings, prefix + "escalations")
    assert json.loads(records[-1][1])["stage_label"] == "1/2"
    # Mid-escalation means after the page was logged: a kill between a receiver's 2xx and
    # the log's acknowledgement is the documented window where one page may be repeated
    # (with the same Idempotency-Key), which is not what this test is about.
    wait_logged(kafka_settings, prefix, ("primary", "team"))
    router.kill()
    # Step 2 falls due (3 s after step 1) while the router is down.
    time.sleep(max(0.0, started + 4.0 - time.time()))
    assert counts(receiver) == {"primary": 1, "secondary": 0, "commander": 0}

    restarted = start_router(start_service, prefix, config, receiver)
    (second,) = receiver.wait_for(1, "/secondary", timeout=20)
    (incident,) = receiver.wait_for(1, "/commander", timeout=20)
    time.sleep(3.0)  # anything repeated would arrive now
    assert counts(receiver) == {"primary": 1, "secondary": 1, "commander": 1}
    assert second.at >= started + 3.0  # never before its wait was over
    assert incident.at >= second.at + 3.0 - 0.5
    assert len(receiver.delivered("/team")) == 1  # the route's notification not repeated
    assert restarted.stop() == 0
