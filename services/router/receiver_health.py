"""The notifier's observer: which integrations are failing, told as meta-alerts, and each
delivery noted on the group's escalation timeline.

The first undeliverable notification of an integration raises its meta-alert (published
to the alerts topic, routed like any alert); its next delivery resolves it. Which
meta-alerts are open is read back from the alerts topic at start (``seen``), so a restart
neither raises one twice nor forgets to resolve it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from . import meta, metrics
from .alert import Alert
from .escalation import EscalationBook
from .integrations.base import Integration
from .planning import Plan
from .retry import Outcome
from .state import StateWriter

log = logging.getLogger("services.router.engine")

Publish = Callable[[dict], Awaitable[None]]


class ReceiverHealth:
    def __init__(
        self,
        escalations: EscalationBook,
        writer: StateWriter,
        publish: Publish,
        now_ms: Callable[[], int],
    ) -> None:
        self._escalations = escalations
        self._writer = writer
        self._publish = publish
        self._now_ms = now_ms
        self._open: dict[str, int] = {}  # integration id -> when its meta-alert fired

    def seen(self, alert: Alert) -> None:
        """An alert from the topic: if it is one of our meta-alerts, track its state."""
        integration = meta.integration_of(dict(alert.labels))
        if integration is None or alert.generator != meta.GENERATOR:
            return
        if alert.firing:
            self._open[integration] = alert.starts_at_ms
        else:
            self._open.pop(integration, None)

    def delivered(self, integration: Integration, plan: Plan) -> None:
        if integration.id in self._open:
            started = self._open.pop(integration.id)
            self._writer.spawn(self._meta(integration, False, "", started))
        self._note(plan, "notified", integration, plan.notice.status)

    def undeliverable(self, integration: Integration, plan: Plan, outcome: Outcome) -> None:
        if integration.id not in self._open:
            self._open[integration.id] = self._now_ms()
            self._writer.spawn(self._meta(integration, True, outcome.reason, None))
        self._note(plan, "notification_failed", integration, outcome.reason)

    def _note(self, plan: Plan, event: str, integration: Integration, detail: str) -> None:
        esc = self._escalations.get(plan.flush.group_key)
        if esc is None:
            return
        esc.note(
            self._now_ms(),
            event,
            receiver=integration.receiver,
            integration=integration.integration,
            detail=detail,
        )
        self._writer.spawn(self._writer.escalation(esc))

    async def _meta(
        self, integration: Integration, firing: bool, reason: str, started: int | None
    ) -> None:
        record = meta.meta_alert(
            integration.id,
            integration.receiver,
            integration.integration,
            firing,
            reason,
            self._now_ms(),
            started,
        )
        try:
            await self._publish(record)
        except Exception as exc:
            log.error("meta-alert not published", extra={"error": str(exc)})
            return
        metrics.META_ALERTS.labels("firing" if firing else "resolved").inc()
        log.warning(
            "meta-alert " + ("raised" if firing else "resolved"),
            extra={"integration": integration.id, "reason": reason},
        )
