"""The shape every integration shares, and the notice they all render.

An integration is one ``*_configs`` entry of a receiver. The notifier hands it a
:class:`Notice` (one group, as this integration should hear of it, with the escalation's
view: acknowledged, by whom, the ack link ...); ``render`` turns it into a
:class:`Request` (or None: nothing to say, e.g. a plain webhook has no word for
"acknowledged"); ``send`` performs one attempt and always returns an ``Answer`` (ok, retry
or reject; ``classify`` reads an HTTP status as one). Retries, logging, rate limits and
the notification log are the notifier's, the same for all.

>>> from services.router.alert import Alert
>>> a = Alert("fp1", True, {"alertname": "HighLatency", "model": "fraud"},
...           {"summary": "p99 812 ms"}, 0, None, 0, "slo")
>>> notice = Notice("oncall", '{}:{model="fraud"}', {"model": "fraud"}, (a,), Context(), "",
...                 "k", 0)
>>> ctx = notice.template_context()
>>> ctx["summary"], ctx["status"], ctx["firing"]
('HighLatency model=fraud', 'firing', 1)
>>> print(ctx["alerts"])
[FIRING] HighLatency: p99 812 ms (model=fraud)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from ..alert import Alert
from ..answers import Answer, classify, http_answer
from ..webhook import common

# Acknowledgement states of a group, as the escalation sees it.
NOT_ACKED, ACKED, CLOSED = "", "acked", "closed"


@dataclass(frozen=True)
class Context:
    """What the router knows about a group beyond its alerts."""

    ack: str = NOT_ACKED  # "", "acked", or "closed" (resolved by a person)
    acked_by: str = ""
    escalation_step: str = ""  # "2/3" while escalating
    incident_id: str = ""
    ack_url: str = ""


@dataclass(frozen=True)
class Notice:
    """One group, as one integration is to hear of it."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]  # notification order; resolved ones only with send_resolved
    context: Context
    external_url: str
    key: str  # the notification's idempotency key
    now_ms: int

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.firing)

    @property
    def status(self) -> str:
        """What a person would call the group's state now."""
        if self.context.ack == CLOSED:
            return "closed"
        if not self.firing:
            return "resolved"
        return "acknowledged" if self.context.ack == ACKED else "firing"

    @property
    def dedup_key(self) -> str:
        """Alertmanager's key for PagerDuty and Opsgenie: sha256 of the group key, so a
        service moving from Alertmanager keeps deduplicating into the same incidents."""
        return hashlib.sha256(self.group_key.encode()).hexdigest()

    def template_context(self) -> dict[str, Any]:
        labels = common(a.labels for a in self.alerts)
        return {
            "status": self.status,
            "receiver": self.receiver,
            "group_key": self.group_key,
            "group_labels": dict(self.group_labels),
            "common_labels": labels,
            "common_annotations": common(a.annotations for a in self.alerts),
            "firing": len(self.firing),
            "resolved": len(self.alerts) - len(self.firing),
            "summary": summary(labels, self.group_labels),
            "alerts": "\n".join(alert_line(a) for a in self.alerts),
            "external_url": self.external_url,
            "ack_url": self.context.ack_url,
            "acked_by": self.context.acked_by,
            "escalation_step": self.context.escalation_step,
            "incident_id": self.context.incident_id,
        }


def summary(labels: Mapping[str, str], group_labels: Mapping[str, str]) -> str:
    """``alertname k=v ...``: what the group is about, in one line."""
    name = labels.get("alertname") or group_labels.get("alertname") or "alerts"
    rest = " ".join(f"{k}={v}" for k, v in sorted(group_labels.items()) if k != "alertname")
    return f"{name} {rest}".strip()


def alert_line(alert: Alert) -> str:
    label = "FLAPPING" if alert.flapping else alert.status.upper()
    text = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    name = alert.labels.get("alertname", alert.fingerprint)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname")
    return f"[{label}] {name}" + (f": {text}" if text else "") + (f" ({shown})" if shown else "")


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    # For email: the message is the body and these are its envelope.
    envelope: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class IntegrationConfig:
    """What every ``*_configs`` entry has."""

    kind: ClassVar[str] = ""

    receiver: str
    index: int
    send_resolved: bool = True
    timeout_s: float = 10.0

    @property
    def id(self) -> str:
        return f"{self.receiver}/{self.kind}/{self.index}"


class Integration:
    """Base class: HTTP POST, classified by status. Subclasses render."""

    kind: ClassVar[str] = ""
    # Whether this service has a word for "acknowledged" (and for "closed by a person"):
    # if so, a change of the group's acknowledgement is news to it.
    tracks_ack: ClassVar[bool] = False

    def __init__(self, config: Any) -> None:
        self.config = config

    @property
    def receiver(self) -> str:
        return self.config.receiver

    @property
    def id(self) -> str:
        """How the notification log and the logs name this integration."""
        return f"{self.config.receiver}/{self.kind}/{self.config.index}"

    @property
    def integration(self) -> str:
        return f"{self.kind}/{self.config.index}"

    @property
    def send_resolved(self) -> bool:
        return self.config.send_resolved

    def secrets(self) -> Sequence[str]:
        """Strings that must never appear in a log line (keys, secret URLs)."""
        return ()

    def render(self, notice: Notice) -> Request | None:
        raise NotImplementedError

    async def send(self, client: httpx.AsyncClient, request: Request, now_s: float) -> Answer:
        """One attempt; whatever happens, an answer (an exception only for a bug)."""
        headers = {"Content-Type": "application/json", **request.headers}
        return await self.post(client, request, headers)

    async def post(
        self, client: httpx.AsyncClient, request: Request, headers: Mapping[str, str]
    ) -> Answer:
        call = client.post(
            request.url, content=request.body, headers=headers, timeout=self.config.timeout_s
        )
        return await http_answer(call, classify_status=self.classify)

    def classify(self, status: int) -> str:
        """``ok``, ``retry`` or ``reject`` for an HTTP status of this service."""
        return classify(status)

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            if secret:
                text = text.replace(secret, "<redacted>")
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r})"
