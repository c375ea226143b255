"""Who is to hear what about a group flush: pure decisions, no I/O, plain data in and out.

A submission names its **targets**: receivers, each possibly *paged* at a given time (an
escalation stage: told again even if nothing changed since), or told only if the group's
acknowledgement changed. Without targets, the route's receiver is the one. Each target
reaches every integration of its receiver (``assign``); for each, :func:`plan` compares
the flush with what the notification log says that integration was last told, and
returns the :class:`Plan` of the notification, or None when it has nothing new to say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from . import webhook
from .dispatch import Flush
from .integrations.base import Context, Integration, Notice, Request
from .nflog import Entry, needs_update


@dataclass(frozen=True)
class Target:
    """A receiver to tell about a flush."""

    receiver: str
    paged_after_ms: int | None = None  # escalation: tell again if last told before this
    stream: str = ""  # "": the group's own log; "fallback:<integration>" for a fallback
    only_ack: bool = False  # tell only if the acknowledgement changed

    def merge(self, newer: Target) -> Target:
        pages = [p for p in (self.paged_after_ms, newer.paged_after_ms) if p is not None]
        return replace(
            newer,
            paged_after_ms=max(pages) if pages else None,
            only_ack=self.only_ack and newer.only_ack,
        )


@dataclass(frozen=True)
class Plan:
    """What one integration is about to be told about one group."""

    integration: Integration
    target: Target
    flush: Flush
    log_key: str  # the group key, with "#<stream>" for a fallback
    firing: frozenset[str]
    resolved: frozenset[str]
    flapping: frozenset[str]
    notice: Notice
    request: Request | None  # None: nothing to send, only the log to update
    news: tuple[int, ...]  # event_time_ms of the alerts that are news to the receiver

    def entry(self, now_ms: int) -> Entry:
        """The notification-log entry once this plan was carried out."""
        return Entry(
            self.integration.id,
            self.log_key,
            self.firing,
            self.resolved,
            now_ms,
            self.notice.key,
            self.flapping,
            self.notice.context.ack,
        )


def log_key(group_key: str, stream: str) -> str:
    return f"{group_key}#{stream}" if stream else group_key


def assign(
    flush: Flush,
    targets: Sequence[Target] | None,
    integrations: Mapping[str, Sequence[Integration]],
) -> list[tuple[Integration, Target]]:
    """Every (integration, target) a submission reaches: one target per (receiver,
    stream), since the route's receiver may also be paged."""
    merged: dict[tuple[str, str], Target] = {}
    for target in targets or [Target(flush.route.opts.receiver)]:
        ident = (target.receiver, target.stream)
        merged[ident] = merged[ident].merge(target) if ident in merged else target
    return [(i, t) for t in merged.values() for i in integrations.get(t.receiver, ())]


def plan(
    integration: Integration,
    target: Target,
    flush: Flush,
    context: Context,
    previous: Entry | None,
    now_s: float,
    external_url: str = "",
) -> Plan | None:
    """The notification ``integration`` is to get, given the log's ``previous`` entry."""
    key_in_log = log_key(flush.group_key, target.stream)
    firing = frozenset(a.fingerprint for a in flush.alerts if a.firing)
    resolved = frozenset(a.fingerprint for a in flush.alerts if not a.firing)
    flapping = frozenset(a.fingerprint for a in flush.alerts if a.firing and a.flapping)
    if target.only_ack:
        if previous is None or not integration.tracks_ack or previous.ack == context.ack:
            return None
    elif not needs_update(
        previous,
        firing,
        resolved,
        send_resolved=integration.send_resolved,
        repeat_interval_s=flush.route.opts.repeat_interval,
        now_s=now_s,
        flapping=flapping,
        ack=context.ack,
        tracks_ack=integration.tracks_ack,
        paged_after_ms=target.paged_after_ms,
    ):
        return None
    alerts = flush.alerts
    if not integration.send_resolved:
        alerts = tuple(a for a in alerts if a.firing)
    key = webhook.idempotency_key(
        integration.id, key_in_log, flush.alerts, previous.timestamp_ms if previous else None
    )
    notice = Notice(
        integration.receiver,
        flush.group_key,
        flush.labels,
        alerts,
        context,
        external_url,
        key,
        int(now_s * 1000),
    )
    request = integration.render(notice) if alerts else None
    seen_firing = previous.firing if previous else frozenset()
    seen_resolved = previous.resolved if previous else frozenset()
    news = tuple(
        a.event_time_ms
        for a in alerts
        if (a.firing and a.fingerprint not in seen_firing)
        or (not a.firing and a.fingerprint not in seen_resolved)
    )
    return Plan(
        integration, target, flush, key_in_log, firing, resolved, flapping, notice, request, news
    )
