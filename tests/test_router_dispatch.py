"""Grouping and every timer, on a hand-driven clock.

The first half drives the dispatcher alone (which group, when due). The second half runs
dispatcher + notification log + notifier against a real HTTP receiver, still on the fake
clock, to check Alertmanager's notification rules end to end: group_wait, group_interval
("only if something changed"), repeat_interval, resolved notifications, send_resolved."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from services.router.alert import Alert
from services.router.dispatch import Dispatcher
from services.router.nflog import NotificationLog, decode_entry
from services.router.notify import Notifier
from services.router.retry import RetryPolicy
from services.router.routing_file import loads
from watchkeeper.devstack import Response, WebhookReceiver

T0 = 1767225600.0  # 2026-01-01T00:00:00Z

ROUTING = """
route:
  receiver: oncall
  group_by: [alertname, model]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['team="risk"']
      receiver: risk
      group_wait: 0s
      group_interval: 1m
      continue: true
    - matchers: ['severity="page"']
      receiver: pager
      group_by: ['...']
receivers:
  - name: oncall
    webhook_configs: [{url: "${RX}/oncall"}]
  - name: risk
    webhook_configs: [{url: "${RX}/risk"}, {url: "${RX}/risk-quiet", send_resolved: false}]
  - name: pager
    webhook_configs: [{url: "${RX}/pager"}]
"""


def alert(
    fp: str,
    *,
    firing: bool = True,
    at: float = T0,
    started: float | None = None,
    **labels: str,
) -> Alert:
    labels = {"alertname": "HighLatency", "model": "fraud", **labels}
    start_ms = int((at if started is None else started) * 1000)
    return Alert(
        fp,
        firing,
        labels,
        {"summary": fp},
        start_ms,
        None if firing else int(at * 1000),
        int(at * 1000),
        "slo",
    )


def dispatcher() -> Dispatcher:
    return Dispatcher(loads(ROUTING, env={"RX": "http://127.0.0.1:1"}).route)


# -- grouping -------------------------------------------------------------------------


def test_one_group_per_route_and_group_by_values() -> None:
    d = dispatcher()
    d.insert(alert("a", model="fraud"), T0)
    d.insert(alert("b", model="fraud", instance="pod-2"), T0)
    d.insert(alert("c", model="chat"), T0)
    d.insert(alert("d", model="fraud", team="risk", severity="page"), T0)
    keys = sorted(g.key for g in d.groups.values())
    assert keys == [
        '{}/{severity="page"}:{alertname="HighLatency", model="fraud", severity="page", '
        'team="risk"}',
        '{}/{team="risk"}:{alertname="HighLatency", model="fraud"}',
        '{}:{alertname="HighLatency", model="chat"}',
        '{}:{alertname="HighLatency", model="fraud"}',
    ]
    fraud = next(
        g for g in d.groups.values() if g.key == '{}:{alertname="HighLatency", model="fraud"}'
    )
    assert sorted(fraud.alerts) == ["a", "b"]


def test_missing_group_by_labels_make_their_own_group() -> None:
    d = dispatcher()
    d.insert(alert("a"), T0)
    d.insert(Alert("b", True, {"alertname": "HighLatency"}, {}, 0, None, 0, "slo"), T0)
    assert len(d) == 2


def test_an_older_state_arriving_late_is_ignored() -> None:
    d = dispatcher()
    d.insert(alert("a", firing=False, at=T0 + 10), T0 + 10)
    d.insert(alert("a", firing=True, at=T0), T0 + 11)
    (group,) = d.groups.values()
    assert not group.alerts["a"].firing


# -- timers ---------------------------------------------------------------------------


def test_first_flush_after_group_wait_with_everything_that_arrived() -> None:
    d = dispatcher()
    d.insert(alert("a", at=T0), T0)
    d.insert(alert("b", at=T0 + 20), T0 + 20)
    assert d.next_deadline() == T0 + 30
    assert d.due(T0 + 29.999) == []
    (flush,) = d.due(T0 + 30)
    assert [a.fingerprint for a in flush.alerts] == ["a", "b"]


def test_group_wait_zero_flushes_at_once() -> None:
    d = dispatcher()
    d.insert(alert("a", team="risk"), T0)
    d.insert(alert("b", team="ads"), T0)
    assert [f.route.opts.receiver for f in d.due(T0)] == ["risk"]  # oncall waits 30 s
    assert d.due(T0 + 29.9) == []
    assert [f.route.opts.receiver for f in d.due(T0 + 30)] == ["oncall"]


def test_an_alert_older_than_group_wait_does_not_wait_again() -> None:
    d = dispatcher()
    d.insert(alert("a", started=T0 - 3600, at=T0), T0)  # e.g. replayed after a restart
    assert [f.group_key for f in d.due(T0)] == ['{}:{alertname="HighLatency", model="fraud"}']


def test_then_every_group_interval_and_new_alerts_wait_for_it() -> None:
    d = dispatcher()
    d.insert(alert("a"), T0)
    assert len(d.due(T0 + 30)) == 1
    d.insert(alert("b", at=T0 + 31), T0 + 31)  # does not pull the next flush forward
    assert d.next_deadline() == T0 + 330
    assert d.due(T0 + 329) == []
    (flush,) = d.due(T0 + 330)
    assert {a.fingerprint for a in flush.alerts} == {"a", "b"}
    assert d.next_deadline() == T0 + 630


def test_done_forgets_notified_resolved_alerts_and_empty_groups() -> None:
    d = dispatcher()
    d.insert(alert("a"), T0)
    d.insert(alert("b"), T0)
    d.due(T0 + 30)
    d.insert(alert("a", firing=False, at=T0 + 40), T0 + 40)
    (flush,) = d.due(T0 + 330)
    d.insert(alert("a", firing=True, at=T0 + 331), T0 + 331)  # fired again meanwhile
    d.done(flush, ok=True)
    (group,) = d.groups.values()
    assert group.alerts["a"].firing  # not deleted: it changed after the snapshot
    d.insert(alert("a", firing=False, at=T0 + 400), T0 + 400)
    d.insert(alert("b", firing=False, at=T0 + 400), T0 + 400)
    (flush,) = d.due(T0 + 630)
    d.done(flush, ok=False)  # a receiver failed: keep them for the next flush
    assert len(d) == 1
    (flush,) = d.due(T0 + 930)
    d.done(flush, ok=True)
    assert len(d) == 0 and d.next_deadline() is None


# -- the whole pipeline, on a fake clock, against a real receiver -------------------------


class Pipeline:
    """Dispatcher, notification log and notifier, stepped by hand."""

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.now = T0
        self.routing = loads(ROUTING, env={"RX": receiver.url})
        self.dispatcher = Dispatcher(self.routing.route)
        self.nflog = NotificationLog()
        self.written: list[tuple[bytes, bytes | None]] = []
        self.notifier = Notifier(
            self.routing.receivers,
            self.nflog,
            self._persist,
            policy=RetryPolicy(base_s=0.001, max_backoff_s=0.001, max_attempts=3),
            clock=lambda: self.now,
            rng=random.Random(0),
        )

    async def _persist(self, key: bytes, value: bytes | None) -> None:
        self.written.append((key, value))

    async def at(self, seconds: float, *alerts: Alert) -> None:
        """Move the clock to T0 + seconds, insert alerts, run due flushes to the end."""
        self.now = T0 + seconds
        for a in alerts:
            self.dispatcher.insert(a, self.now)
        for flush in self.dispatcher.due(self.now):
            self.notifier.submit(flush, self.dispatcher.done)
        await self.notifier.idle()


def bodies(receiver: WebhookReceiver, path: str) -> list[dict]:
    return [r.body for r in receiver.requests(path)]


@pytest.fixture
def receiver():
    rx = WebhookReceiver().start()
    yield rx
    rx.stop()


def run(scenario) -> None:
    asyncio.run(scenario())


def test_group_interval_only_if_something_changed_and_repeat_interval(receiver) -> None:
    async def scenario() -> None:
        p = Pipeline(receiver)
        await p.at(0, alert("a"))
        await p.at(29)
        assert bodies(receiver, "/oncall") == []
        await p.at(30)
        assert [len(b["alerts"]) for b in bodies(receiver, "/oncall")] == [1]
        await p.at(330)  # a flush with nothing new: no notification
        await p.at(630)
        assert len(bodies(receiver, "/oncall")) == 1
        await p.at(700, alert("b", at=T0 + 700))
        assert len(bodies(receiver, "/oncall")) == 1  # waits for the group interval
        await p.at(930)
        assert [len(b["alerts"]) for b in bodies(receiver, "/oncall")] == [1, 2]
        # Unchanged since 930: repeat_interval (4 h) later, the next flush repeats it.
        await p.at(930 + 4 * 3600 - 300)
        assert len(bodies(receiver, "/oncall")) == 2
        await p.at(930 + 4 * 3600 + 300)
        sent = receiver.requests("/oncall")
        assert len(sent) == 3 and sent[2].body == sent[1].body
        # A deliberate repeat is a new notification: a new Idempotency-Key.
        keys = [r.headers["idempotency-key"] for r in sent]
        assert len(set(keys)) == 3

    run(scenario)


def test_resolved_notification_then_the_log_forgets_the_group(receiver) -> None:
    async def scenario() -> None:
        p = Pipeline(receiver)
        await p.at(0, alert("a", team="risk"))
        await p.at(10, alert("a", team="risk", firing=False, at=T0 + 10))
        assert [b["status"] for b in bodies(receiver, "/risk")] == ["firing"]
        await p.at(60)  # risk's group_interval is 1 m
        risk = bodies(receiver, "/risk")
        assert [b["status"] for b in risk] == ["firing", "resolved"]
        assert risk[1]["alerts"][0]["endsAt"] == "2026-01-01T00:00:10Z"
        # send_resolved: false gets no request, but its log entry is cleared all the same.
        assert [b["status"] for b in bodies(receiver, "/risk-quiet")] == ["firing"]
        last = {json.loads(k)[0]: v for k, v in p.written}
        assert last == {"risk/webhook/0": None, "risk/webhook/1": None}
        assert len(p.nflog) == 0
        await p.at(120)
        assert len(bodies(receiver, "/risk")) == 2
        # oncall (group_wait 30 s) never heard of it: resolved before its first flush.
        await p.at(400)
        assert bodies(receiver, "/oncall") == []
        assert len(p.dispatcher) == 0

    run(scenario)


def test_log_entries_record_what_was_delivered(receiver) -> None:
    async def scenario() -> None:
        p = Pipeline(receiver)
        await p.at(0, alert("a", team="risk"), alert("b", team="risk"))
        entries = [decode_entry(v) for _, v in p.written if v]
        assert {e.receiver for e in entries} == {"risk/webhook/0", "risk/webhook/1"}
        entry = next(e for e in entries if e.receiver == "risk/webhook/0")
        assert (entry.firing, entry.resolved, entry.timestamp_ms) == (
            frozenset({"a", "b"}),
            frozenset(),
            int(T0 * 1000),
        )
        sent = receiver.requests("/risk")[0]
        assert entry.idempotency_key == sent.headers["idempotency-key"]

    run(scenario)


def test_a_failing_integration_neither_delays_nor_repeats_another(receiver) -> None:
    receiver.script("/risk", [500, 500, 500])

    async def scenario() -> None:
        p = Pipeline(receiver)
        await p.at(0, alert("a", team="risk"))
        assert [r.status for r in receiver.requests("/risk")] == [500, 500, 500]  # gave up
        assert len(receiver.delivered("/risk-quiet")) == 1
        await p.at(60)  # the next flush: only the one that failed is tried again
        assert [r.status for r in receiver.requests("/risk")] == [500, 500, 500, 200]
        assert len(receiver.requests("/risk-quiet")) == 1

    run(scenario)


def test_a_newer_flush_waits_for_the_running_delivery_then_replaces_older_ones(
    receiver,
) -> None:
    receiver.script("/risk", [Response(200, delay_s=0.3)])

    async def scenario() -> None:
        p = Pipeline(receiver)
        p.now = T0
        p.dispatcher.insert(alert("a", team="risk"), p.now)
        for flush in p.dispatcher.due(p.now):
            p.notifier.submit(flush, p.dispatcher.done)
        await asyncio.sleep(0.05)  # the first request is in flight
        for seconds, fp in ((60, "b"), (120, "c")):
            p.now = T0 + seconds
            p.dispatcher.insert(alert(fp, team="risk", at=p.now), p.now)
            for flush in p.dispatcher.due(p.now):
                p.notifier.submit(flush, p.dispatcher.done)
        await p.notifier.idle()
        sizes = [len(b["alerts"]) for b in bodies(receiver, "/risk")]
        assert sizes == [1, 3]  # the flush with 2 alerts was superseded, never sent

    run(scenario)


def test_an_alert_firing_again_is_a_new_notification_with_a_new_key(receiver) -> None:
    async def scenario() -> None:
        p = Pipeline(receiver)
        await p.at(0, alert("a", team="risk"))
        await p.at(10, alert("a", team="risk", firing=False, at=T0 + 10))
        await p.at(60)
        assert len(p.nflog) == 0  # resolved, notified, forgotten
        await p.at(100, alert("a", team="risk", at=T0 + 100))
        sent = receiver.requests("/risk")
        assert [r.body["status"] for r in sent] == ["firing", "resolved", "firing"]
        assert len({r.headers["idempotency-key"] for r in sent}) == 3

    run(scenario)
