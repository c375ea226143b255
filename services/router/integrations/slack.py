"""Slack incoming webhooks: a message with blocks, and a button to acknowledge.

The webhook URL is the credential (anyone holding it can post to the channel), so it is a
secret: it never appears in a log line or an error. Slack answers ``200 ok``, or a 4xx
with a word (``invalid_payload``, ``channel_not_found`` ...) that retrying cannot fix, or
429 with ``Retry-After``.

>>> from services.router.alert import Alert
>>> from services.router.integrations.base import Context
>>> a = Alert("fp1", True, {"alertname": "HighLatency", "model": "fraud"}, {}, 0, None, 0, "s")
>>> slack = SlackIntegration(SlackConfig("oncall", 0, "https://hooks.slack.test/T/B/x"))
>>> notice = Notice("oncall", "{}:{}", {"model": "fraud"}, (a,),
...                 Context(ack_url="https://router.example/ack/e1?t=s"), "", "k", 0)
>>> import json
>>> message = json.loads(slack.render(notice).body)
>>> message["text"]
'[FIRING] HighLatency model=fraud'
>>> message["blocks"][-1]["elements"][0]["url"]
'https://router.example/ack/e1?t=s'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..templates import Template
from .base import ACKED, Integration, IntegrationConfig, Notice, Request

DEFAULT_TITLE = Template.parse("[{{ status | upper }}] {{ summary }}")
DEFAULT_TEXT = Template.parse("{{ alerts }}")
_COLORS = {"firing": "#d0021b", "acknowledged": "#f5a623", "resolved": "#2eb886"}


@dataclass(frozen=True)
class SlackConfig(IntegrationConfig):
    kind: ClassVar[str] = "slack"

    api_url: str = field(default="", repr=False)
    channel: str = ""
    username: str = ""
    icon_emoji: str = ""
    title: Template = DEFAULT_TITLE
    text: Template = DEFAULT_TEXT


class SlackIntegration(Integration):
    kind = "slack"
    tracks_ack = True
    config: SlackConfig

    def secrets(self) -> Sequence[str]:
        return (self.config.api_url,)

    def render(self, notice: Notice) -> Request | None:
        context = notice.template_context()
        title = self.config.title.render(context)
        text = self.config.text.render(context)
        blocks: list[dict] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        ]
        if text:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
        facts = [f"status: *{notice.status}*"]
        if notice.context.acked_by:
            facts.append(f"acknowledged by {notice.context.acked_by}")
        if notice.context.escalation_step:
            facts.append(f"escalation step {notice.context.escalation_step}")
        if notice.context.incident_id:
            facts.append(f"incident {notice.context.incident_id}")
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]}
        )
        if notice.context.ack_url and notice.firing and notice.context.ack != ACKED:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Acknowledge"},
                            "style": "primary",
                            "url": notice.context.ack_url,
                        }
                    ],
                }
            )
        message: dict = {"text": title, "blocks": blocks}
        for key in ("channel", "username", "icon_emoji"):
            if getattr(self.config, key):
                message[key] = getattr(self.config, key)
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        return Request(self.config.api_url, body)
