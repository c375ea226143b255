"""The webhook body is Alertmanager's (version 4) to the byte where it matters: field names
and order, time formats, group key, common labels; and the Idempotency-Key is stable."""

from __future__ import annotations

import json

from services.router.alert import Alert
from services.router.dispatch import Dispatcher, group_key
from services.router.routing_file import loads
from services.router.webhook import encode, idempotency_key, payload

ROUTING = """
route:
  receiver: default
  group_by: [alertname, model]
  group_wait: 0s
  routes:
    - matchers: ['severity=~"page|critical"', 'team="risk"']
      receiver: risk.oncall
receivers:
  - name: default
  - name: risk.oncall
"""

T0 = 1767225630000  # 2026-01-01T00:00:30Z

GOLDEN = """
{
  "receiver": "risk\\\\.oncall",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "HighLatencyP99", "instance": "pod-1", "job": "fraud-api",
                 "model": "fraud", "severity": "page", "team": "risk"},
      "annotations": {"runbook_url": "https://runbooks.example/latency",
                      "summary": "p99 812 ms"},
      "startsAt": "2026-01-01T00:00:30Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "",
      "fingerprint": "fp-pod-1"
    },
    {
      "status": "resolved",
      "labels": {"alertname": "HighLatencyP99", "instance": "pod-2", "job": "fraud-api",
                 "model": "fraud", "severity": "page", "team": "risk"},
      "annotations": {"runbook_url": "https://runbooks.example/latency",
                      "summary": "p99 120 ms"},
      "startsAt": "2026-01-01T00:00:00.5Z",
      "endsAt": "2026-01-01T00:01:30.025Z",
      "generatorURL": "https://slo.example/q",
      "fingerprint": "fp-pod-2"
    }
  ],
  "groupLabels": {"alertname": "HighLatencyP99", "model": "fraud"},
  "commonLabels": {"alertname": "HighLatencyP99", "job": "fraud-api", "model": "fraud",
                   "severity": "page", "team": "risk"},
  "commonAnnotations": {"runbook_url": "https://runbooks.example/latency"},
  "externalURL": "https://router.example",
  "version": "4",
  "groupKey": "GROUP_KEY",
  "truncatedAlerts": 0
}
""".replace(
    "GROUP_KEY",
    '{}/{severity=~\\"page|critical\\",team=\\"risk\\"}'
    ':{alertname=\\"HighLatencyP99\\", model=\\"fraud\\"}',
)


def alerts() -> list[Alert]:
    labels = {
        "alertname": "HighLatencyP99",
        "severity": "page",
        "team": "risk",
        "model": "fraud",
        "job": "fraud-api",
    }
    runbook = {"runbook_url": "https://runbooks.example/latency"}
    return [
        Alert(
            "fp-pod-2",
            False,
            {**labels, "instance": "pod-2"},
            {**runbook, "summary": "p99 120 ms", "generator_url": "https://slo.example/q"},
            T0 - 29500,
            T0 + 60025,
            T0 + 60100,
            "slo",
        ),
        Alert(
            "fp-pod-1",
            True,
            {**labels, "instance": "pod-1"},
            {**runbook, "summary": "p99 812 ms"},
            T0,
            None,
            T0 + 150,
            "slo",
        ),
    ]


def flush_of(batch: list[Alert]):
    dispatcher = Dispatcher(loads(ROUTING).route)
    for alert in batch:
        dispatcher.insert(alert, now=T0 / 1000 + 61)
    (flush,) = dispatcher.due(now=T0 / 1000 + 61)
    return flush


def test_golden_payload() -> None:
    flush = flush_of(alerts())
    body = payload(
        flush.route.opts.receiver,
        flush.group_key,
        flush.labels,
        flush.alerts,
        external_url="https://router.example",
    )
    golden = json.loads(GOLDEN)
    # generator_url is an annotation too; Alertmanager would list it in annotations.
    golden["alerts"][1]["annotations"]["generator_url"] = "https://slo.example/q"
    assert body == golden
    assert list(json.loads(encode(body))) == list(golden)  # Alertmanager's field order
    assert list(body["alerts"][0]) == list(golden["alerts"][0])


def test_group_key_is_route_key_then_group_labels() -> None:
    route = loads(ROUTING).route
    assert group_key(route, {}) == "{}:{}"
    assert group_key(route.routes[0], {"b": 'say "x"', "a": "1"}) == (
        '{}/{severity=~"page|critical",team="risk"}:{a="1", b="say \\"x\\""}'
    )


def test_resolved_only_notification_and_truncation() -> None:
    flush = flush_of(alerts())
    resolved_only = [a for a in flush.alerts if not a.firing]
    body = payload("default", flush.group_key, flush.labels, resolved_only)
    assert body["status"] == "resolved"
    assert body["commonAnnotations"]["summary"] == "p99 120 ms"
    truncated = payload("default", flush.group_key, flush.labels, flush.alerts, max_alerts=1)
    assert (len(truncated["alerts"]), truncated["truncatedAlerts"]) == (1, 1)
    assert truncated["receiver"] == "default"


def test_idempotency_key_is_stable_and_changes_with_content() -> None:
    pod2, pod1 = alerts()  # pod-2 resolved, pod-1 firing
    key = idempotency_key("risk/webhook/0", "{}:{}", [pod2, pod1], None)
    assert key == idempotency_key("risk/webhook/0", "{}:{}", [pod1, pod2], None)
    pod2_again = Alert("fp-pod-2", True, pod2.labels, {}, T0 + 600_000, None, T0 + 600_000, "s")
    pod1_resolved = Alert("fp-pod-1", False, pod1.labels, {}, pod1.starts_at_ms, T0, T0, "s")
    others = {
        idempotency_key("risk/webhook/1", "{}:{}", [pod2, pod1], None),
        idempotency_key("risk/webhook/0", "{}:{x}", [pod2, pod1], None),
        idempotency_key("risk/webhook/0", "{}:{}", [pod2, pod1_resolved], None),  # resolved
        idempotency_key("risk/webhook/0", "{}:{}", [pod2, pod1], 1767225600000),  # a repeat
        idempotency_key("risk/webhook/0", "{}:{}", [pod2_again, pod1], None),  # fired again
    }
    assert key not in others and len(others) == 5
