"""Meta-alerts: the router's own alert when an integration cannot be reached.

When a notification is undeliverable (retry budget spent, or rejected), the router
publishes ``RouterDeliveryFailed`` for that integration onto the alerts topic, like any
other alert source; it is routed by the same tree (route it to whoever runs the router),
and resolved as soon as the integration delivers again. Its fingerprint is stable per
integration, so a receiver down for an hour raises one alert, not one per notification.

>>> record = meta_alert("oncall/slack/0", "oncall", "slack/0", True, "gave_up", now_ms=5)
>>> record["labels"]["alertname"], record["status"], record["fingerprint"]
('RouterDeliveryFailed', 'FIRING', '9a1da1328e95fafb')
"""

from __future__ import annotations

import hashlib

ALERTNAME = "RouterDeliveryFailed"
GENERATOR = "router"


def fingerprint(integration_id: str) -> str:
    return hashlib.sha256(f"{ALERTNAME}\n{integration_id}".encode()).hexdigest()[:16]


def meta_alert(
    integration_id: str,
    receiver: str,
    integration: str,
    firing: bool,
    reason: str,
    now_ms: int,
    started_ms: int | None = None,
) -> dict:
    return {
        "fingerprint": fingerprint(integration_id),
        "status": "FIRING" if firing else "RESOLVED",
        "labels": {
            "alertname": ALERTNAME,
            "receiver": receiver,
            "integration": integration,
            "severity": "critical",
        },
        "annotations": {
            "summary": f"notifications to {receiver} ({integration}) could not be delivered"
            + (f": {reason}" if reason else ""),
        },
        "value": None,
        "threshold": None,
        "starts_at_ms": started_ms if started_ms is not None else now_ms,
        "ends_at_ms": None if firing else now_ms,
        "event_time_ms": now_ms,
        "generator": GENERATOR,
    }


def integration_of(labels: dict[str, str]) -> str | None:
    """The integration id a meta-alert is about (None for any other alert)."""
    if labels.get("alertname") != ALERTNAME or "receiver" not in labels:
        return None
    return f"{labels['receiver']}/{labels.get('integration', '')}"
