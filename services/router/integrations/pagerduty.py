"""PagerDuty Events API v2: trigger, acknowledge and resolve one incident per group.

``dedup_key`` is the sha256 of the group key (what Alertmanager sends), so every
notification of a group lands on the same PagerDuty incident; an acknowledgement in the
router becomes an ``acknowledge`` event, a resolved group (or one a person closed) a
``resolve``. Severity comes from the ``severity`` label through a map (PagerDuty knows
only critical, error, warning, info). The routing key is a secret.

>>> from services.router.alert import Alert
>>> from services.router.integrations.base import Context
>>> a = Alert("fp1", True, {"alertname": "Drift", "severity": "page"}, {}, 0, None, 0, "s")
>>> pd = PagerDutyIntegration(PagerDutyConfig("oncall", 0, routing_key="R" * 32))
>>> import json
>>> event = json.loads(pd.render(Notice("oncall", "{}:{}", {}, (a,), Context(), "", "k", 0)).body)
>>> event["event_action"], event["payload"]["severity"], len(event["dedup_key"])
('trigger', 'critical', 64)
>>> acked = Notice("oncall", "{}:{}", {}, (a,), Context(ack="acked"), "", "k", 0)
>>> json.loads(pd.render(acked).body)
... # doctest: +NORMALIZE_WHITESPACE
{'routing_key': 'RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR', 'event_action': 'acknowledge',
 'dedup_key': 'cc9772a1ec901d26ef71dae861793e4d08979fa5030a3f0a5f3ba549f1f2d0b6'}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..templates import Template
from ..webhook import rfc3339
from .base import ACKED, CLOSED, Integration, IntegrationConfig, Notice, Request

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
DEFAULT_SEVERITY_MAP: Mapping[str, str] = {
    "critical": "critical",
    "page": "critical",
    "error": "error",
    "high": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
}
DEFAULT_SUMMARY = Template.parse("[{{ status | upper }}] {{ summary }}")


@dataclass(frozen=True)
class PagerDutyConfig(IntegrationConfig):
    kind: ClassVar[str] = "pagerduty"

    routing_key: str = field(default="", repr=False)
    url: str = DEFAULT_URL
    summary: Template = DEFAULT_SUMMARY
    source: str = "watchkeeper"
    severity_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    default_severity: str = "error"
    client: str = "watchkeeper"


class PagerDutyIntegration(Integration):
    kind = "pagerduty"
    tracks_ack = True
    config: PagerDutyConfig

    def secrets(self) -> Sequence[str]:
        return (self.config.routing_key,)

    def severity(self, labels: Mapping[str, str]) -> str:
        raw = labels.get("severity", "").lower()
        return self.config.severity_map.get(raw, self.config.default_severity)

    def render(self, notice: Notice) -> Request | None:
        event: dict = {
            "routing_key": self.config.routing_key,
            "event_action": _action(notice),
            "dedup_key": notice.dedup_key,
        }
        if event["event_action"] == "trigger":
            context = notice.template_context()
            firing = notice.firing
            event["payload"] = {
                "summary": self.config.summary.render(context)[:1024],
                "source": self.config.source,
                "severity": self.severity(context["common_labels"]),
                "timestamp": rfc3339(min(a.starts_at_ms for a in firing)),
                "custom_details": {
                    "firing": context["alerts"],
                    "num_firing": len(firing),
                    "num_resolved": context["resolved"],
                    "group_labels": context["group_labels"],
                },
            }
            event["client"] = self.config.client
            if notice.external_url:
                event["client_url"] = notice.external_url
            if notice.context.ack_url:
                event["links"] = [{"href": notice.context.ack_url, "text": "Acknowledge"}]
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        return Request(self.config.url, body)


def _action(notice: Notice) -> str:
    if not notice.firing or notice.context.ack == CLOSED:
        return "resolve"
    return "acknowledge" if notice.context.ack == ACKED else "trigger"
