"""The generic webhook: Alertmanager's JSON body (version 4), so existing receivers work.

Field names, order and formats follow Alertmanager's ``notify/webhook`` and
``template.Data``: ``receiver`` is regexp-quoted as Alertmanager quotes it, times are
RFC 3339 in UTC, a firing alert ends at ``0001-01-01T00:00:00Z``, ``commonLabels`` and
``commonAnnotations`` are the pairs every alert of the notification shares.

>>> rfc3339(1767225630150), rfc3339(1767225630000), rfc3339(None)
('2026-01-01T00:00:30.15Z', '2026-01-01T00:00:30Z', '0001-01-01T00:00:00Z')
>>> quote_meta("web.hook")
'web\\\\.hook'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from .alert import Alert
from .signing import Signer

VERSION = "4"
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time: "has not ended"
_GO_REGEX_META = set("\\.+*?()|[]{}^$")


@dataclass(frozen=True)
class WebhookConfig:
    """One ``webhook_configs`` entry of a receiver: an integration of its own."""

    kind: ClassVar[str] = "webhook"

    receiver: str
    index: int
    url: str
    send_resolved: bool = True
    timeout_s: float = 10.0
    max_alerts: int = 0  # 0: all alerts; otherwise the rest is counted in truncatedAlerts
    signer: Signer | None = field(default=None, repr=False)  # Standard Webhooks signatures

    @property
    def id(self) -> str:
        """How the notification log and the metrics name this integration."""
        return f"{self.receiver}/webhook/{self.index}"

    @property
    def integration(self) -> str:
        return f"webhook/{self.index}"


def rfc3339(ms: int | None) -> str:
    """Go's RFC3339Nano for a UTC instant in epoch milliseconds (trailing zeros trimmed)."""
    if ms is None:
        return ZERO_TIME
    seconds, millis = divmod(ms, 1000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return text + "Z"


def quote_meta(text: str) -> str:
    """Go's ``regexp.QuoteMeta``: Alertmanager sends the receiver name quoted this way."""
    return "".join("\\" + ch if ch in _GO_REGEX_META else ch for ch in text)


def common(maps: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The pairs present, with the same value, in every map.

    >>> common([{"a": "1", "b": "2"}, {"a": "1", "b": "3"}])
    {'a': '1'}
    """
    maps = list(maps)
    if not maps:
        return {}
    first, rest = maps[0], maps[1:]
    return {k: v for k, v in sorted(first.items()) if all(m.get(k) == v for m in rest)}


def alert_json(alert: Alert) -> dict[str, Any]:
    ends = alert.ends_at_ms if alert.ends_at_ms is not None else alert.event_time_ms
    return {
        "status": alert.status,
        "labels": dict(sorted(alert.labels.items())),
        "annotations": dict(sorted(alert.annotations.items())),
        "startsAt": rfc3339(alert.starts_at_ms),
        # A firing alert has not ended, whatever its event says: Alertmanager zeroes it.
        "endsAt": ZERO_TIME if alert.firing else rfc3339(ends),
        "generatorURL": alert.annotations.get("generator_url", ""),
        "fingerprint": alert.fingerprint,
    }


def payload(
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[Alert],
    external_url: str = "",
    max_alerts: int = 0,
) -> dict[str, Any]:
    """The body of one notification. ``alerts`` are in notification order already."""
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "receiver": quote_meta(receiver),
        "status": "firing" if any(a.firing for a in alerts) else "resolved",
        "alerts": [alert_json(a) for a in alerts],
        "groupLabels": dict(sorted(group_labels.items())),
        "commonLabels": common(a.labels for a in alerts),
        "commonAnnotations": common(a.annotations for a in alerts),
        "externalURL": external_url,
        "version": VERSION,
        "groupKey": group_key,
        "truncatedAlerts": truncated,
    }


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def idempotency_key(
    integration: str,
    group_key: str,
    alerts: Iterable[Alert],
    previous_ms: int | None,
) -> str:
    """The same notification gets the same key, whichever process sends it.

    A notification is "what this receiver is told about this group, given what it was
    told last": the state of each alert (fingerprint, status, and start, so that an alert
    firing again is a new incident) and the time of the previous notification in the log.
    A deliberate repeat (``repeat_interval``) gets a new key; a re-send after a crash,
    which restarts from the same log entry, gets the old one.

    >>> def a(fp, start=0): return Alert(fp, True, {}, {}, start, None, start, "slo")
    >>> first = idempotency_key("oncall/webhook/0", "{}:{}", [a("b"), a("a")], None)
    >>> first == idempotency_key("oncall/webhook/0", "{}:{}", [a("a"), a("b")], None)
    True
    >>> first == idempotency_key("oncall/webhook/0", "{}:{}", [a("a"), a("b")], 1767225600000)
    False
    >>> first == idempotency_key("oncall/webhook/0", "{}:{}", [a("a"), a("b", 60000)], None)
    False
    """
    states = sorted((a.fingerprint, a.status, a.starts_at_ms) for a in alerts)
    material = json.dumps([integration, group_key, states, previous_ms], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]
