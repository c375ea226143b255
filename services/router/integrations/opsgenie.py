"""Opsgenie Alert API: create an alert per group (alias = sha256 of the group key, as
Alertmanager), acknowledge it when the router's escalation is acknowledged, close it when
the group resolves. The API key is a secret, sent as ``Authorization: GenieKey <key>``.

>>> from services.router.alert import Alert
>>> from services.router.integrations.base import Context
>>> a = Alert("fp1", True, {"alertname": "Drift", "severity": "page"}, {}, 0, None, 0, "s")
>>> og = OpsgenieIntegration(OpsgenieConfig("oncall", 0, api_key="k" * 36))
>>> request = og.render(Notice("oncall", "{}:{}", {}, (a,), Context(ack="acked"), "", "k", 0))
>>> request.url.split("?")[0].rsplit("/", 1)[-1], request.url.split("?")[1]
('acknowledge', 'identifierType=alias')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..templates import Template
from .base import ACKED, CLOSED, Integration, IntegrationConfig, Notice, Request

DEFAULT_API_URL = "https://api.opsgenie.com/"
DEFAULT_MESSAGE = Template.parse("{{ summary }}")
DEFAULT_DESCRIPTION = Template.parse("{{ alerts }}")
DEFAULT_PRIORITY_MAP: Mapping[str, str] = {
    "critical": "P1",
    "page": "P1",
    "error": "P2",
    "high": "P2",
    "warning": "P3",
    "medium": "P3",
    "info": "P5",
    "low": "P4",
}


@dataclass(frozen=True)
class OpsgenieConfig(IntegrationConfig):
    kind: ClassVar[str] = "opsgenie"

    api_key: str = field(default="", repr=False)
    api_url: str = DEFAULT_API_URL
    message: Template = DEFAULT_MESSAGE
    description: Template = DEFAULT_DESCRIPTION
    source: str = "watchkeeper"
    tags: tuple[str, ...] = ()
    responders: tuple[Mapping[str, str], ...] = ()
    priority_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PRIORITY_MAP))
    default_priority: str = "P3"


class OpsgenieIntegration(Integration):
    kind = "opsgenie"
    tracks_ack = True
    config: OpsgenieConfig

    def secrets(self) -> Sequence[str]:
        return (self.config.api_key,)

    def render(self, notice: Notice) -> Request | None:
        base = self.config.api_url.rstrip("/") + "/v2/alerts"
        headers = {"Authorization": f"GenieKey {self.config.api_key}"}
        alias = notice.dedup_key
        context = notice.template_context()
        if not notice.firing or notice.context.ack == CLOSED:
            url = f"{base}/{alias}/close?identifierType=alias"
            body: dict = {"source": self.config.source, "note": f"{notice.status} by watchkeeper"}
            if notice.context.acked_by:
                body["user"] = notice.context.acked_by
        elif notice.context.ack == ACKED:
            url = f"{base}/{alias}/acknowledge?identifierType=alias"
            body = {"source": self.config.source, "user": notice.context.acked_by or "router"}
        else:
            url = base
            severity = context["common_labels"].get("severity", "").lower()
            body = {
                "message": self.config.message.render(context)[:130],
                "alias": alias,
                "description": self.config.description.render(context)[:15000],
                "source": self.config.source,
                "priority": self.config.priority_map.get(severity, self.config.default_priority),
                "details": {k: v for k, v in context["group_labels"].items()},
                "tags": list(self.config.tags),
            }
            if self.config.responders:
                body["responders"] = [dict(r) for r in self.config.responders]
            if notice.context.ack_url:
                body["details"]["ack_url"] = notice.context.ack_url
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return Request(url, payload, headers)
