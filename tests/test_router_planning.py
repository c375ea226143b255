"""The notifier's plan, from plain data: no broker, no HTTP, no event loop."""

from __future__ import annotations

from services.router.alert import Alert
from services.router.dispatch import AggregationGroup, Flush
from services.router.integrations.base import ACKED, Context
from services.router.integrations.registry import integration_for
from services.router.planning import Target, assign, plan
from services.router.routing_file import loads

ROUTING = """
route:
  receiver: oncall
  group_by: [alertname]
  repeat_interval: 4h
receivers:
  - name: oncall
    webhook_configs: [{url: "http://127.0.0.1:1/a"}, {url: "http://127.0.0.1:1/b"}]
  - name: lead
    pagerduty_configs: [{routing_key: "RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR"}]
"""
NOW = 1767225600.0


def setup():
    routing = loads(ROUTING)
    integrations = {
        name: tuple(integration_for(c) for c in configs)
        for name, configs in routing.receivers.items()
    }
    group = AggregationGroup(routing.route, {"alertname": "Drift"}, NOW)
    firing = Alert("fp1", True, {"alertname": "Drift"}, {}, int(NOW * 1000), None, 0, "t")
    return integrations, Flush(group, (firing,))


def test_without_targets_the_route_receiver_gets_every_integration():
    integrations, flush = setup()
    pairs = assign(flush, None, integrations)
    assert [(i.id, t.receiver) for i, t in pairs] == [
        ("oncall/webhook/0", "oncall"),
        ("oncall/webhook/1", "oncall"),
    ]


def test_a_receiver_named_twice_is_one_target_with_the_latest_page():
    integrations, flush = setup()
    targets = [Target("lead", paged_after_ms=5), Target("lead", paged_after_ms=9)]
    ((integration, target),) = assign(flush, targets, integrations)
    assert integration.id == "lead/pagerduty/0" and target.paged_after_ms == 9


def test_news_is_planned_and_what_was_told_is_not_told_again():
    integrations, flush = setup()
    webhook = integrations["oncall"][0]
    first = plan(webhook, Target("oncall"), flush, Context(), None, NOW)
    assert first is not None and first.request is not None
    assert first.firing == {"fp1"} and len(first.news) == 1  # new to the receiver
    told = first.entry(int(NOW * 1000))
    assert plan(webhook, Target("oncall"), flush, Context(), told, NOW + 60) is None


def test_an_acknowledgement_is_news_only_to_integrations_with_a_word_for_it():
    integrations, flush = setup()
    for integration, expected in (
        (integrations["lead"][0], True),
        (integrations["oncall"][0], False),
    ):
        told = plan(integration, Target(integration.receiver), flush, Context(), None, NOW)
        assert told is not None
        acked = plan(
            integration,
            Target(integration.receiver, only_ack=True),
            flush,
            Context(ack=ACKED),
            told.entry(int(NOW * 1000)),
            NOW + 60,
        )
        assert (acked is not None) is expected
