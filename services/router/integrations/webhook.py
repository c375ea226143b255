"""The generic webhook: Alertmanager's JSON body (``..webhook``), signed when configured.

The body is byte for byte what Alertmanager would send, so receivers written for it work
unchanged; what Alertmanager has no field for travels in headers: ``Idempotency-Key``
(the same for a re-send of one notification), the Standard Webhooks signature headers
when the endpoint has secrets, and ``Watchkeeper-Escalation-Step`` /
``Watchkeeper-Incident`` when the notification is an escalation page.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from .. import webhook
from ..answers import Answer
from ..webhook import WebhookConfig
from .base import Integration, Notice, Request


class WebhookIntegration(Integration):
    kind = "webhook"
    config: WebhookConfig

    def secrets(self) -> Sequence[str]:
        # A webhook URL often carries a token in its path or query (Slack-style).
        return (self.config.url,) if self.config.signer is not None else ()

    def render(self, notice: Notice) -> Request | None:
        if not notice.alerts:
            return None
        body = webhook.payload(
            self.config.receiver,
            notice.group_key,
            notice.group_labels,
            notice.alerts,
            notice.external_url,
            self.config.max_alerts,
        )
        headers = {"Idempotency-Key": notice.key}
        if notice.context.escalation_step:
            headers["Watchkeeper-Escalation-Step"] = notice.context.escalation_step
        if notice.context.incident_id:
            headers["Watchkeeper-Incident"] = notice.context.incident_id
        return Request(self.config.url, webhook.encode(body), headers)

    async def send(self, client: httpx.AsyncClient, request: Request, now_s: float) -> Answer:
        headers = dict(request.headers)
        if self.config.signer is not None:
            # The id stays the same across retries (receivers dedupe on it); the timestamp
            # is this attempt's, as the specification wants, so each attempt is re-signed.
            msg_id = "msg_" + headers["Idempotency-Key"]
            headers.update(self.config.signer.headers(msg_id, int(now_s), request.body))
        headers["Content-Type"] = "application/json"
        return await self.post(client, request, headers)
