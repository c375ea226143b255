"""Who hears of what: routing with every matcher, inhibition, silences through the API,
time intervals (on the router's injected clock, in a time zone) and flap damping, each
against a real broker and a real HTTP receiver, the router in this process."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest

from .test_router_support import (
    Alerts,
    Clock,
    InProcess,
    api_async,
    read_to_end,
    receiver,
    settle,
    until,
)

pytestmark = pytest.mark.kafka
__all__ = ["receiver"]


def fingerprints(receiver, path: str) -> list[list[str]]:
    return [[a["fingerprint"] for a in r.body["alerts"]] for r in receiver.delivered(path)]


MATCHERS = """
route:
  receiver: rest
  group_by: ['...']
  group_wait: 0s
  routes:
    - matchers: ['team="risk"']
      receiver: equal
      continue: true
    - matchers: ['team!="risk"', 'severity="page"']
      receiver: not-equal
      continue: true
    - matchers: ['model=~"fraud|chat-.*"']
      receiver: regex
      continue: true
    - matchers: ['region!~"eu-.*"']
      receiver: not-regex
receivers:
  - name: rest
    webhook_configs: [{url: "${RX}/rest"}]
  - name: equal
    webhook_configs: [{url: "${RX}/equal"}]
  - name: not-equal
    webhook_configs: [{url: "${RX}/not-equal"}]
  - name: regex
    webhook_configs: [{url: "${RX}/regex"}]
  - name: not-regex
    webhook_configs: [{url: "${RX}/not-regex"}]
"""


def test_routing_with_every_matcher(kafka_settings, prefix, receiver) -> None:
    clock = Clock(time.time())
    cases = {
        "a": {"team": "risk", "model": "eta", "region": "eu-west-1"},  # = only
        "b": {"team": "ads", "severity": "page", "model": "eta", "region": "eu-1"},  # !=
        "c": {"team": "ads", "model": "chat-v2", "region": "eu-1"},  # =~ (anchored)
        "d": {"team": "ads", "model": "fraudulent", "region": "us-east-1"},  # !~ only
        "e": {"team": "ads", "model": "eta", "region": "eu-central-1"},  # nothing: root
    }

    async def scenario() -> None:
        async with InProcess(kafka_settings, prefix, MATCHERS, {"RX": receiver.url}, clock) as r:
            alerts = Alerts(kafka_settings, prefix, clock)
            for fp, labels in cases.items():
                alerts.fire(fp, **labels)
            await until(lambda: len(receiver.delivered()) >= 5, router=r)
            await settle(r)

    asyncio.run(scenario())
    assert fingerprints(receiver, "/equal") == [["a"]]
    assert fingerprints(receiver, "/not-equal") == [["b"]]
    assert fingerprints(receiver, "/regex") == [["c"]]  # "fraudulent" is not "fraud"
    assert fingerprints(receiver, "/not-regex") == [["d"]]  # only d lacks an eu- region
    # A matching child takes the alert from the root; e matched no child: the root has it.
    assert fingerprints(receiver, "/rest") == [["e"]]


INHIBIT = """
route:
  receiver: oncall
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1m
inhibit_rules:
  - source_matchers: ['alertname="ModelDown"']
    target_matchers: ['severity="warning"']
    equal: [model]
receivers:
  - name: oncall
    webhook_configs: [{url: "${RX}/oncall"}]
"""


def test_a_firing_source_inhibits_targets_that_share_the_equal_labels(
    kafka_settings, prefix, receiver
) -> None:
    clock = Clock(time.time())
    rp = InProcess(kafka_settings, prefix, INHIBIT, {"RX": receiver.url}, clock)

    async def scenario() -> None:
        async with rp as r:
            alerts = Alerts(kafka_settings, prefix, clock)
            alerts.fire("down", alertname="ModelDown", severity="critical", model="fraud")
            await until(lambda: len(receiver.delivered("/oncall")) == 1, router=r)
            alerts.fire("slow-fraud", alertname="Slow", severity="warning", model="fraud")
            alerts.fire("slow-chat", alertname="Slow", severity="warning", model="chat")
            await until(lambda: len(receiver.delivered("/oncall")) == 2, router=r)
            await settle(r)
            # Only chat's warning got through: fraud's is muted by ModelDown{model=fraud}.
            assert fingerprints(receiver, "/oncall") == [["down"], ["slow-chat"]]
            views = await api_async(rp.api, "GET", "/api/v1/alerts", "reader")
            muted = {a["fingerprint"]: a["muted"] for a in views.json()["alerts"]}
            assert muted["slow-fraud"] == {"inhibited_by": "down"}
            assert muted["slow-chat"] == {}

            alerts.resolve("down", alertname="ModelDown", severity="critical", model="fraud")
            await until(lambda: "down" not in r.engine.alerts, router=r)
            clock.now += 60  # the next flushes: the source's resolution, the target freed
            await until(lambda: len(receiver.delivered("/oncall")) == 4, router=r)
            await settle(r)
            later = receiver.delivered("/oncall")[2:]
            told = sorted((q.body["status"], q.body["alerts"][0]["fingerprint"]) for q in later)
            assert told == [("firing", "slow-fraud"), ("resolved", "down")]

    asyncio.run(scenario())


SILENCES = """
route:
  receiver: oncall
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1m
receivers:
  - name: oncall
    webhook_configs: [{url: "${RX}/oncall"}]
"""


def test_silences_are_created_and_expired_through_the_api_and_kept_on_a_topic(
    kafka_settings, prefix, receiver
) -> None:
    clock = Clock(time.time())
    rp = InProcess(kafka_settings, prefix, SILENCES, {"RX": receiver.url}, clock)

    async def scenario() -> None:
        async with rp as r:
            body = {
                "matchers": ['model="fraud"', 'alertname=~"High.*"'],
                "duration": "2h",
                "comment": "deploying fraud 3.3",
            }
            created = await api_async(rp.api, "POST", "/api/v1/silences", "admin", json=body)
            assert created.status_code == 201, created.text
            silence = created.json()
            assert (silence["state"], silence["created_by"]) == ("active", "admin")

            alerts = Alerts(kafka_settings, prefix, clock)
            alerts.fire("fraud-1", model="fraud")
            alerts.fire("chat-1", model="chat")
            await until(lambda: len(receiver.delivered("/oncall")) == 1, router=r)
            clock.now += 60
            await settle(r)
            assert fingerprints(receiver, "/oncall") == [["chat-1"]]

            expired = await api_async(
                rp.api, "DELETE", f"/api/v1/silences/{silence['id']}", "admin"
            )
            assert expired.status_code == 200 and expired.json()["state"] == "expired"
            again = await api_async(rp.api, "DELETE", f"/api/v1/silences/{silence['id']}", "admin")
            assert again.status_code == 409
            clock.now += 60  # the group's next flush: the alert is news now
            await until(lambda: len(receiver.delivered("/oncall")) == 2, router=r)
            assert fingerprints(receiver, "/oncall")[1] == ["fraud-1"]
            listed = await api_async(rp.api, "GET", "/api/v1/silences", "reader")
            assert [s["state"] for s in listed.json()["silences"]] == ["expired"]

    asyncio.run(scenario())
    records = read_to_end(kafka_settings, prefix + "silences")
    assert [json.loads(v)["ends_ms"] > json.loads(v)["starts_ms"] for _, v in records] == [
        True,
        True,
    ]
    assert json.loads(records[0][1])["comment"] == "deploying fraud 3.3"


INTERVALS = """
route:
  receiver: oncall
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 2d
  routes:
    - matchers: ['team="risk"']
      receiver: office
      mute_time_intervals: [nights]
    - matchers: ['team="ads"']
      receiver: office
      active_time_intervals: [office-hours]
time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: "22:00", end_time: "24:00"}, {start_time: "00:00", end_time: "07:00"}]
        location: Europe/Berlin
  - name: office-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: "09:00", end_time: "17:00"}]
        location: America/New_York
receivers:
  - name: oncall
    webhook_configs: [{url: "${RX}/oncall"}]
  - name: office
    webhook_configs: [{url: "${RX}/office"}]
"""


def test_time_intervals_in_their_time_zones_on_the_injected_clock(
    kafka_settings, prefix, receiver
) -> None:
    # Monday 2026-01-05, 22:30 in Berlin (21:30 UTC; 16:30 in New York).
    clock = Clock(datetime(2026, 1, 5, 21, 30, tzinfo=UTC).timestamp())
    rp = InProcess(kafka_settings, prefix, INTERVALS, {"RX": receiver.url}, clock)

    async def scenario() -> None:
        async with rp as r:
            alerts = Alerts(kafka_settings, prefix, clock)
            alerts.fire("risk-1", team="risk", model="fraud")  # Berlin night: muted
            alerts.fire("ads-1", team="ads", model="ranker")  # NY office hours: active
            await until(lambda: len(receiver.delivered("/office")) == 1, router=r)
            await settle(r)
            assert fingerprints(receiver, "/office") == [["ads-1"]]

            # 07:00 Berlin (06:00 UTC) on Tuesday: the night is over, and it is 01:00 in
            # New York, outside office hours.
            clock.now = datetime(2026, 1, 6, 6, 0, tzinfo=UTC).timestamp()
            alerts.fire("ads-2", team="ads", model="bidder")
            await until(lambda: "ads-2" in r.engine.alerts, router=r)
            await until(lambda: len(receiver.delivered("/office")) == 2, router=r)
            await settle(r)
            assert fingerprints(receiver, "/office") == [["ads-1"], ["risk-1"]]

            clock.now = datetime(2026, 1, 6, 14, 0, tzinfo=UTC).timestamp()  # 09:00 NY
            await until(lambda: len(receiver.delivered("/office")) == 3, router=r)
            assert fingerprints(receiver, "/office")[2] == ["ads-2"]

    asyncio.run(scenario())


FLAPPING = """
route:
  receiver: oncall
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 10s
flap_detection:
  max_transitions: 3
  window: 10m
receivers:
  - name: oncall
    webhook_configs: [{url: "${RX}/oncall"}]
"""


def test_a_flapping_alert_is_held_back_and_notified_once_as_flapping(
    kafka_settings, prefix, receiver
) -> None:
    clock = Clock(time.time())
    rp = InProcess(kafka_settings, prefix, FLAPPING, {"RX": receiver.url}, clock)

    async def scenario() -> None:
        async with rp as r:
            alerts = Alerts(kafka_settings, prefix, clock)
            for cycle in range(6):  # fires and resolves every 30 s for three minutes
                alerts.fire("fp-1")
                await until(
                    lambda: "fp-1" in r.engine.alerts or r.engine.damper.flapping(), router=r
                )
                clock.now += 15
                await settle(r, 0.1)
                alerts.resolve("fp-1")
                await until(
                    lambda: "fp-1" not in r.engine.alerts or r.engine.damper.flapping(), router=r
                )
                clock.now += 15
                await settle(r, 0.1)
                del cycle
            statuses = [
                (b.body["status"], b.body["alerts"][0]["annotations"].get("flapping"))
                for b in receiver.delivered("/oncall")
            ]
            # It fired, then three changes went out as they happened; the fourth change made
            # it flapping: one notification says so, and the changes after it are held.
            assert statuses == [
                ("firing", None),
                ("resolved", None),
                ("firing", None),
                ("resolved", None),
                ("firing", "true"),
            ]
            views = await api_async(rp.api, "GET", "/api/v1/alerts", "reader")
            assert [a["flapping"] for a in views.json()["alerts"]] == [True]

            clock.now += 600  # quiet for the window: released in its real state
            await until(lambda: len(receiver.delivered("/oncall")) == 6, router=r)
            assert receiver.delivered("/oncall")[5].body["status"] == "resolved"
            await settle(r)
            assert len(receiver.delivered("/oncall")) == 6

    asyncio.run(scenario())
