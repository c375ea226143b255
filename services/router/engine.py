"""The router's state and decisions, between the alert feed and the notifier: no Kafka, no
HTTP server, an injected clock. ``app`` feeds it alerts and state records and gives it the
functions that write to topics; the API calls its operations.

The path of an alert::

    alerts topic -> flap damping -> inhibition sources, dispatcher (groups, timers)
    a group's flush -> muting (time intervals of the route; silences and inhibition per
    alert) -> escalation (start, end) -> notifier (the route's receiver and every receiver
    the escalation paged)

Escalation stages run on their own timers (``tick``). A stage is written to the
``escalations`` topic, and only then paged; the pages a flush re-tells are those already
written (``_confirmed``), so after a crash the log and the topic agree on what was paged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from . import metrics, silences
from .alert import Alert
from .auth import AckLinks
from .dispatch import AggregationGroup, Dispatcher, Flush
from .escalation import ACKNOWLEDGED, RESOLVED, Escalation, EscalationBook, EscalationError, Page
from .flapping import FlapDamper
from .incidents import IncidentBook
from .inhibit import Inhibitor
from .integrations.base import ACKED, CLOSED, NOT_ACKED, Context
from .matchers import Matcher
from .muting import Muting
from .nflog import NotificationLog
from .notify import Notifier, Target
from .receiver_health import Publish, ReceiverHealth
from .retry import RetryPolicy
from .routing_file import RoutingConfig
from .silences import Silence, SilenceBook
from .state import (
    ESCALATIONS,
    INCIDENTS,
    NFLOG,
    SILENCES,
    STATE_TOPICS,
    Persist,
    StateWriteError,
    StateWriter,
)
from .validity import ValidUntil

log = logging.getLogger(__name__)

PURGE_EVERY_S = 60.0


class Engine:
    def __init__(
        self,
        routing: RoutingConfig,
        persist: Persist,
        publish: Publish,
        *,
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy | None = None,
        external_url: str = "",
        max_in_flight: int = 32,
        ack_links: AckLinks | None = None,
        silence_retention_s: float = silences.DEFAULT_RETENTION_S,
    ) -> None:
        self.routing = routing
        self.clock = clock
        self.ack_links = ack_links
        self.nflog = NotificationLog()
        self.silences = SilenceBook(silence_retention_s)
        self.escalations = EscalationBook(routing.policies)
        self.incidents = IncidentBook()
        self.inhibitor = Inhibitor(routing.inhibit_rules)
        self.dispatcher = Dispatcher(routing.route)
        flap = routing.flap
        self.damper = FlapDamper(flap.max_transitions, flap.window_s) if flap else None
        self.muting = Muting(routing.time_intervals, self.silences, self.inhibitor)
        self.alerts: dict[str, Alert] = {}  # firing alerts, as the dispatcher sees them
        self.valid_until = ValidUntil()  # firing alerts that carry an endsAt (Prometheus)
        self._confirmed: dict[str, dict[str, int]] = {}  # group key -> pages written
        self._state = StateWriter(persist, self.incidents)
        self.receiver_health = ReceiverHealth(self.escalations, self._state, publish, self.now_ms)
        self._purged_at = 0.0
        self.notifier = Notifier(
            routing.receivers,
            self.nflog,
            lambda key, value: persist(NFLOG, key, value),
            policy=policy,
            clock=clock,
            external_url=external_url,
            max_in_flight=max_in_flight,
            fallbacks={n: o.fallback for n, o in routing.receiver_options.items() if o.fallback},
            rate_limits={
                n: o.rate_limit for n, o in routing.receiver_options.items() if o.rate_limit
            },
            observer=self.receiver_health,
        )

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- restoring ----------------------------------------------------------------------

    def restore(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """One record of a state topic, oldest first (errors are the caller's to log)."""
        if topic == NFLOG:
            self.nflog.apply(key or b"", value)
        elif topic == SILENCES:
            self.silences.apply(key, value)
        elif topic == ESCALATIONS:
            self.escalations.apply(key, value)
        elif topic == INCIDENTS:
            self.incidents.apply(key, value)

    def restored(self) -> None:
        """Every topic read back: what was paged counts as written; stale episodes end."""
        for group_key, esc in list(self.escalations.escalations.items()):
            self._confirmed[group_key] = dict(esc.pages)
            group = self.dispatcher.by_key.get(group_key)
            if group is None or not any(a.firing for a in group.alerts.values()):
                self._finish(esc)
        self._gauges()

    # -- intake -------------------------------------------------------------------------

    def insert(self, alert: Alert) -> None:
        """One alert state from the topic (during restore as well as live)."""
        self.receiver_health.seen(alert)
        shown = self.damper.observe(alert) if self.damper is not None else alert
        if shown is not None:
            self._show(shown)

    def _show(self, alert: Alert) -> None:
        known = self.alerts.get(alert.fingerprint)
        if known is not None and known.event_time_ms > alert.event_time_ms:
            return  # an older state arriving late
        if alert.firing and alert.ends_at_ms is not None:
            if alert.ends_at_ms <= self.now_ms():
                alert = replace(alert, firing=False)  # its sender's endsAt has passed
            else:
                self.valid_until.note(alert.fingerprint, alert.ends_at_ms)
        self.inhibitor.observe(alert)
        if alert.firing:
            self.alerts[alert.fingerprint] = alert
        else:
            self.alerts.pop(alert.fingerprint, None)
        self.dispatcher.insert(alert, self.clock())

    # -- time ---------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        deadlines = [self.dispatcher.next_deadline()]
        if self.damper is not None:
            deadlines.append(self.damper.next_deadline())
        for ms in (self.escalations.next_deadline_ms(), self.valid_until.next_deadline_ms()):
            deadlines.append(ms / 1000 if ms is not None else None)
        return min((d for d in deadlines if d is not None), default=None)

    def tick(self) -> None:
        """Run everything due now: released flappers, group flushes, escalation stages."""
        now = self.clock()
        if self.damper is not None:
            for alert in self.damper.due(now):
                self._show(alert)
        for fingerprint, ends_ms in self.valid_until.due(int(now * 1000)):
            alert = self.alerts.get(fingerprint)
            if alert is not None and alert.ends_at_ms == ends_ms:
                self._show(alert)  # still the state that promised ends_ms: now resolved
        for flush in self.dispatcher.due(now):
            self._flush(flush)
        for esc in self.escalations.due(int(now * 1000)):
            self._advance(esc)
        if now - self._purged_at > PURGE_EVERY_S:
            self._purged_at = now
            for silence_id in self.silences.purge(int(now * 1000)):
                self._state.spawn(self._state.write(SILENCES, silence_id.encode(), None))
        self._gauges()

    # -- flushes ------------------------------------------------------------------------

    def _flush(self, flush: Flush) -> None:
        route = flush.route
        if self.muting.route_muted(route, self.clock()):
            metrics.MUTED.labels("time_interval").inc()
            return
        shown = self.muting.view(flush, self.now_ms(), count=True)
        # Everyone the escalation paged follows the group to its end, resolution included
        # (taken before _escalate, which forgets them when this flush ends the episode).
        paged = dict(self._confirmed.get(flush.group_key, {}))
        esc = self._escalate(flush, shown)
        if not shown.alerts:
            return  # every alert is muted: nothing to tell anyone (as Alertmanager)
        targets = [Target(route.opts.receiver)]
        targets += [Target(r, paged_after_ms=t) for r, t in paged.items()]
        self.notifier.submit(shown, self._flushed, targets=targets, context=self.context(esc))

    def _flushed(self, flush: Flush, ok: bool) -> None:
        self.dispatcher.done(flush, ok)

    def _escalate(self, flush: Flush, shown: Flush) -> Escalation | None:
        """Start, track or end the escalation of a flushed group."""
        policy = flush.route.opts.escalation
        if policy is None:
            return None
        esc = self.escalations.get(flush.group_key)
        firing = [a for a in shown.alerts if a.firing]
        if esc is not None and not any(a.firing for a in flush.alerts):
            self._finish(esc)
            return None
        if esc is not None and esc.status == RESOLVED:
            # Resolved by a person: only an alert that started since opens a new episode.
            assert esc.resolved_ms is not None
            if not any(a.starts_at_ms > esc.resolved_ms for a in firing):
                return esc
            self._finish(esc)
            esc = None
        if esc is None:
            if not firing:
                return None
            esc, page = self.escalations.start(flush.group_key, policy, self.now_ms())
            self.escalations.track(esc, flush.alerts)
            metrics.ESCALATION_EVENTS.labels("escalated").inc()
            self._state.spawn(self._page(page))
            return esc
        self.escalations.track(esc, flush.alerts)
        return esc

    def _advance(self, esc: Escalation) -> None:
        group = self.dispatcher.by_key.get(esc.group_key)
        if group is None or not any(a.firing for a in group.alerts.values()):
            self._finish(esc)
            return
        now = self.clock()
        shown = self.muting.view(group.snapshot(), self.now_ms())
        if self.muting.route_muted(group.route, now) or not any(a.firing for a in shown.alerts):
            # Nobody is to hear of this group now; look again one group interval later.
            self.escalations.defer(
                esc, int((now + group.route.opts.group_interval) * 1000), "muted"
            )
            self._state.spawn(self._state.escalation(esc))
            return
        was = esc.status
        page = self.escalations.advance(esc, int(now * 1000))
        if page is None:
            self._state.spawn(self._state.escalation(esc))
            return
        event = "paged_again" if was == ACKNOWLEDGED else "escalated"
        metrics.ESCALATION_EVENTS.labels(event).inc()
        self._state.spawn(self._page(page))

    async def _page(self, page: Page) -> None:
        """Write the stage, then page its receivers (so a restart neither loses nor repeats
        it). If the write fails the page still goes out: waking someone matters more than
        the record, and the failure is logged and counted."""
        esc = page.escalation
        if page.opened_incident:
            metrics.ESCALATION_EVENTS.labels("incident_opened").inc()
        try:
            await self._state.escalation(esc, raise_errors=True)
        except StateWriteError as exc:
            log.error("escalation stage not written; paging anyway", extra={"error": str(exc)})
        confirmed = self._confirmed.setdefault(esc.group_key, {})
        for receiver in page.receivers:
            confirmed[receiver] = esc.pages[receiver]
        group = self.dispatcher.by_key.get(esc.group_key)
        if group is None or self.escalations.get(esc.group_key) is not esc:
            return  # resolved while the record was being written
        shown = self.muting.view(group.snapshot(), self.now_ms())
        targets = [Target(r, paged_after_ms=esc.pages[r]) for r in page.receivers]
        context = replace(self.context(esc), escalation_step=page.label)
        log.info(
            "escalation stage",
            extra={
                "escalation": esc.id,
                "group_key": esc.group_key,
                "stage": page.label,
                "receivers": list(page.receivers),
                "incident": esc.incident_id,
            },
        )
        self.notifier.submit(shown, targets=targets, context=context)

    def _finish(self, esc: Escalation) -> None:
        self.escalations.finish(esc, self.now_ms())
        self._confirmed.pop(esc.group_key, None)
        metrics.ESCALATION_EVENTS.labels("resolved").inc()
        self._state.spawn(self._state.escalation(esc, gone=True))

    def context(self, esc: Escalation | None) -> Context:
        if esc is None:
            return Context()
        ack = {ACKNOWLEDGED: ACKED, RESOLVED: CLOSED}.get(esc.status, NOT_ACKED)
        return Context(
            ack=ack,
            acked_by=esc.acked_by or esc.resolved_by,
            escalation_step=esc.stage_label,
            incident_id=esc.incident_id,
            ack_url=self.ack_links.url(esc.id) if self.ack_links and esc.status != RESOLVED else "",
        )

    # -- operations (the API) -------------------------------------------------------------

    def find_escalations(self, what: dict[str, str]) -> list[Escalation]:
        """By ``escalation`` id, ``incident`` id, ``group_key``, or an alert ``fingerprint``
        (every open escalation whose group holds it)."""
        if "escalation" in what or "incident" in what:
            found = self.escalations.by_id(what.get("escalation") or what.get("incident") or "")
            return [found] if found else []
        if "group_key" in what:
            found = self.escalations.get(what["group_key"])
            return [found] if found else []
        fingerprint = what.get("fingerprint", "")
        return [
            e
            for e in self.escalations.escalations.values()
            if (g := self.dispatcher.by_key.get(e.group_key)) is not None
            and fingerprint in g.alerts
        ]

    async def acknowledge(self, esc: Escalation, by: str, comment: str = "") -> None:
        self.escalations.ack(esc, by, self.now_ms(), comment)
        metrics.ESCALATION_EVENTS.labels("acknowledged").inc()
        await self._state.escalation(esc, raise_errors=True)
        self._tell_ack(esc)

    async def resolve(self, esc: Escalation, by: str, comment: str = "") -> None:
        self.escalations.resolve(esc, by, self.now_ms(), comment)
        metrics.ESCALATION_EVENTS.labels("resolved").inc()
        await self._state.escalation(esc, raise_errors=True)
        self._tell_ack(esc)

    def _tell_ack(self, esc: Escalation) -> None:
        """Integrations with a word for it (PagerDuty, Opsgenie, Slack) hear it now."""
        group = self.dispatcher.by_key.get(esc.group_key)
        if group is None:
            return
        receivers = {group.route.opts.receiver, *self._confirmed.get(esc.group_key, {})}
        targets = [Target(r, only_ack=True) for r in sorted(receivers)]
        self.notifier.submit(
            self.muting.view(group.snapshot(), self.now_ms()),
            targets=targets,
            context=self.context(esc),
        )

    async def create_silence(
        self, matchers: Iterable[Matcher], starts_ms: int, ends_ms: int, by: str, comment: str
    ) -> Silence:
        silence = self.silences.create(matchers, starts_ms, ends_ms, by, comment, self.now_ms())
        await self._state.write(SILENCES, *self.silences.record(silence.id), raise_errors=True)
        log.info("silence created", extra={"silence": silence.id, "by": by})
        return silence

    async def update_silence(
        self,
        silence_id: str,
        matchers: Iterable[Matcher],
        starts_ms: int,
        ends_ms: int,
        by: str,
        comment: str,
    ) -> Silence:
        """Alertmanager's update (``SilenceBook.update``): the expired one, if the change
        replaced it, is written first, then the silence as it is now."""
        silence, expired = self.silences.update(
            silence_id, matchers, starts_ms, ends_ms, by, comment, self.now_ms()
        )
        if expired is not None:
            await self._state.write(SILENCES, *self.silences.record(expired), raise_errors=True)
        await self._state.write(SILENCES, *self.silences.record(silence.id), raise_errors=True)
        log.info("silence updated", extra={"silence": silence.id, "replaced": expired, "by": by})
        return silence

    async def expire_silence(self, silence_id: str, by: str) -> Silence:
        silence = self.silences.expire(silence_id, self.now_ms())
        await self._state.write(SILENCES, *self.silences.record(silence_id), raise_errors=True)
        log.info("silence expired", extra={"silence": silence_id, "by": by})
        return silence

    def alert_views(self) -> list[dict[str, Any]]:
        now_ms = self.now_ms()
        groups: dict[str, list[AggregationGroup]] = {}
        for group in self.dispatcher.groups.values():
            for fingerprint in group.alerts:
                groups.setdefault(fingerprint, []).append(group)
        out = []
        for alert in sorted(self.alerts.values(), key=Alert.sort_key):
            mine = groups.get(alert.fingerprint, [])
            escalations = [e.id for g in mine if (e := self.escalations.get(g.key)) is not None]
            out.append(
                {
                    "fingerprint": alert.fingerprint,
                    "status": "firing",
                    "labels": dict(alert.labels),
                    "annotations": dict(alert.annotations),
                    "starts_ms": alert.starts_at_ms,
                    "flapping": alert.flapping,
                    "muted": self.muting.muted_by(alert, now_ms),
                    "groups": sorted(g.key for g in mine),
                    "receivers": sorted({g.route.opts.receiver for g in mine}),
                    "escalations": escalations,
                }
            )
        return out

    async def drain(self, timeout_s: float) -> None:
        """Let pending state writes and pages finish (shutdown, tests)."""
        await self._state.drain(timeout_s)

    def _gauges(self) -> None:
        now_ms = self.now_ms()
        states = {"pending": 0, "active": 0, "expired": 0}
        for silence in self.silences.all():
            states[silence.state(now_ms)] += 1
        for state, count in states.items():
            metrics.SILENCES.labels(state).set(count)
        statuses = {"triggered": 0, "acknowledged": 0, "resolved": 0}
        for esc in self.escalations.escalations.values():
            statuses[esc.status] += 1
        for status, count in statuses.items():
            metrics.ESCALATIONS.labels(status).set(count)
        metrics.INCIDENTS_OPEN.set(self.incidents.open_count())
        metrics.FLAPPING.set(len(self.damper) if self.damper is not None else 0)
        metrics.ACTIVE_GROUPS.set(len(self.dispatcher))


__all__ = ["STATE_TOPICS", "Engine", "EscalationError", "StateWriteError"]
