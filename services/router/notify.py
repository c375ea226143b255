"""From flushes to delivered notifications: dedup, send with retries, log what got through.

Each integration (one ``*_configs`` entry of a receiver) is a pipeline of its own: its own
HTTP client, connection pool and concurrency limit, its own rate limit and retries, its
own notification-log entries. A receiver that fails or hangs never delays or repeats
another.

Per (integration, group) at most one delivery runs at a time: a flush that comes while the
previous one is still being delivered (or retried) waits, and a newer flush replaces a
waiting one, since it carries the newer state of the group (their targets are merged, so
an escalation page waiting there is not lost).

A submission names its **targets**: receivers, each possibly *paged* at a given time (an
escalation stage: told again even if nothing changed since), or told only if the group's
acknowledgement changed. Without targets, the route's receiver is the one.

After a 2xx, the entry goes into the notification log in memory at once and is written to
the topic right away; ``persist`` returns once the broker has acknowledged it. A crash
between the receiver's 2xx and that acknowledgement is the one window where a notification
can be sent twice; the re-send carries the same ``Idempotency-Key``.

When the retry budget is spent (or the receiver rejects the notification), the observer
hears of it (the router raises a meta-alert) and the receiver's **fallback** receiver, if
it has one, gets the notification under a log stream of its own
(``<group key>#fallback:<integration>``), so it is told once per state, not at every flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import httpx

from . import metrics, webhook
from .dispatch import Flush
from .integrations.base import Context, Integration, Notice, Request
from .integrations.registry import integration_for
from .nflog import Entry, NotificationLog, needs_update
from .ratelimit import RateLimit, TokenBucket
from .retry import Outcome, RetryPolicy, deliver

log = logging.getLogger(__name__)

USER_AGENT = "watchkeeper-router/0.2"

Persist = Callable[[bytes, bytes | None], Awaitable[None]]
Done = Callable[[Flush, bool], None]


def _ignore(flush: Flush, ok: bool) -> None:
    """on_done for submissions that are not the group's own flush (pages, fallbacks)."""


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


class Observer(Protocol):
    def delivered(self, integration: Integration, plan: Plan) -> None: ...

    def undeliverable(self, integration: Integration, plan: Plan, outcome: Outcome) -> None: ...


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


class _Job:
    """One flush across its integrations; reports back once all are done."""

    def __init__(self, flush: Flush, count: int, on_done: Done) -> None:
        self.flush = flush
        self.left = count
        self.ok = True
        self._on_done = on_done

    def finish(self, ok: bool) -> None:
        self.ok = self.ok and ok
        self.left -= 1
        if self.left == 0:
            self._on_done(self.flush, self.ok)


class _Slot:
    """One of an integration's max_in_flight places, taken and given back at most once."""

    def __init__(self, limit: asyncio.Semaphore) -> None:
        self._limit = limit
        self._held = False

    async def take(self) -> None:
        await self._limit.acquire()
        self._held = True

    def give(self) -> None:
        if self._held:
            self._held = False
            self._limit.release()


@dataclass
class _Waiting:
    target: Target
    flush: Flush
    context: Context
    job: _Job


@dataclass
class _Lane:
    task: asyncio.Task | None = None
    waiting: _Waiting | None = None


class Notifier:
    def __init__(
        self,
        receivers: Mapping[str, Sequence[Any]],
        nflog: NotificationLog,
        persist: Persist,
        *,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        external_url: str = "",
        max_in_flight: int = 32,
        fallbacks: Mapping[str, str] | None = None,
        rate_limits: Mapping[str, RateLimit] | None = None,
        observer: Observer | None = None,
    ) -> None:
        # httpx logs every request's URL at INFO, and some URLs are credentials (Slack's
        # webhook URL): whatever the log level, those lines never happen.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.nflog = nflog
        self.policy = policy or RetryPolicy()
        self.external_url = external_url
        self.fallbacks = dict(fallbacks or {})
        self.observer = observer
        self._persist = persist
        self._clock = clock
        self._rng = rng or random.Random()
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._closing = asyncio.Event()
        self.log_write_error: str | None = None  # the last failed write, until one succeeds
        self.integrations: dict[str, tuple[Integration, ...]] = {
            name: tuple(integration_for(config) for config in configs)
            for name, configs in receivers.items()
        }
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._buckets: dict[str, TokenBucket] = {}
        for name, integrations in self.integrations.items():
            limit = (rate_limits or {}).get(name)
            for integration in integrations:
                # One pool per integration: a receiver that hangs cannot take the
                # connections another one needs.
                self._clients[integration.id] = httpx.AsyncClient(
                    follow_redirects=False,
                    headers={"User-Agent": USER_AGENT},
                    limits=httpx.Limits(
                        max_connections=max_in_flight, max_keepalive_connections=max_in_flight
                    ),
                )
                self._limits[integration.id] = asyncio.Semaphore(max_in_flight)
                if limit is not None:
                    self._buckets[integration.id] = TokenBucket(limit.count, limit.period_s, clock)

    # -- intake -----------------------------------------------------------------------

    def submit(
        self,
        flush: Flush,
        on_done: Done = _ignore,
        *,
        targets: Sequence[Target] | None = None,
        context: Context | None = None,
    ) -> None:
        """Hand a flush to every integration of its targets; never blocks."""
        context = context or Context()
        chosen = _dedupe(targets or [Target(flush.route.opts.receiver)])
        pairs = [(i, t) for t in chosen for i in self.integrations.get(t.receiver, ())]
        if not pairs:
            on_done(flush, True)  # receivers without integrations swallow everything
            return
        job = _Job(flush, len(pairs), on_done)
        for integration, target in pairs:
            self._offer(integration, _Waiting(target, flush, context, job))

    async def idle(self) -> None:
        """Wait until nothing is being delivered (for tests and shutdown)."""
        while tasks := [lane.task for lane in self._lanes.values() if lane.task]:
            await asyncio.wait(tasks)

    async def close(self, timeout_s: float) -> int:
        """Stop taking flushes; give running deliveries ``timeout_s``; return how many
        were abandoned (they were not logged, so the next process sends them)."""
        self._closing.set()
        for lane in self._lanes.values():
            if lane.waiting:
                lane.waiting.job.finish(False)
                lane.waiting = None
        tasks = [lane.task for lane in self._lanes.values() if lane.task]
        abandoned = 0
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
            abandoned = len(pending)
        for client in self._clients.values():
            await client.aclose()
        return abandoned

    # -- per integration and group ----------------------------------------------------

    def _offer(self, integration: Integration, item: _Waiting) -> None:
        if self._closing.is_set():
            item.job.finish(False)
            return
        ident = (integration.id, _log_key(item.flush.group_key, item.target.stream))
        lane = self._lanes.get(ident)
        if lane is not None and lane.task is not None:
            if lane.waiting is not None:
                item.target = lane.waiting.target.merge(item.target)
                lane.waiting.job.finish(False)  # superseded: the newer flush decides
            lane.waiting = item
            return
        self._start(integration, item)

    def _start(self, integration: Integration, item: _Waiting) -> None:
        ident = (integration.id, _log_key(item.flush.group_key, item.target.stream))
        plan = self._plan(integration, item)
        if plan is None:
            self._lanes.pop(ident, None)
            item.job.finish(True)
            return
        lane = self._lanes.setdefault(ident, _Lane())
        lane.task = asyncio.get_running_loop().create_task(
            self._run(plan, item.job, ident), name=f"notify {integration.id} {ident[1]}"
        )

    async def _run(self, plan: Plan, job: _Job, ident: tuple[str, str]) -> None:
        integration = plan.integration
        gauge = metrics.IN_FLIGHT.labels(integration.receiver, integration.integration)
        gauge.inc()
        ok = False
        try:
            ok = await self._execute(plan)
        except asyncio.CancelledError:
            metrics.NOTIFICATIONS_FAILED.labels(
                integration.receiver, integration.integration, "cancelled"
            ).inc()
            raise
        except Exception as exc:
            log.error(
                "notification failed unexpectedly",
                extra={
                    "receiver": integration.id,
                    "group_key": plan.flush.group_key,
                    "error": integration.redact(f"{type(exc).__name__}: {exc}"),
                },
            )
        finally:
            gauge.dec()
            job.finish(ok)
            lane = self._lanes.get(ident)
            if lane is not None:
                lane.task = None
                waiting, lane.waiting = lane.waiting, None
                if waiting is not None and not self._closing.is_set():
                    self._start(integration, waiting)
                elif waiting is not None:
                    waiting.job.finish(False)
                if lane.task is None:
                    self._lanes.pop(ident, None)

    def _plan(self, integration: Integration, item: _Waiting) -> Plan | None:
        flush, target, context = item.flush, item.target, item.context
        log_key = _log_key(flush.group_key, target.stream)
        firing = frozenset(a.fingerprint for a in flush.alerts if a.firing)
        resolved = frozenset(a.fingerprint for a in flush.alerts if not a.firing)
        flapping = frozenset(a.fingerprint for a in flush.alerts if a.firing and a.flapping)
        previous = self.nflog.get(integration.id, log_key)
        now = self._clock()
        if target.only_ack:
            if previous is None or not integration.tracks_ack or previous.ack == context.ack:
                return None
        elif not needs_update(
            previous,
            firing,
            resolved,
            send_resolved=integration.send_resolved,
            repeat_interval_s=flush.route.opts.repeat_interval,
            now_s=now,
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
            integration.id, log_key, flush.alerts, previous.timestamp_ms if previous else None
        )
        notice = Notice(
            integration.receiver,
            flush.group_key,
            flush.labels,
            alerts,
            context,
            self.external_url,
            key,
            int(now * 1000),
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
            integration, target, flush, log_key, firing, resolved, flapping, notice, request, news
        )

    async def _execute(self, plan: Plan) -> bool:
        integration = plan.integration
        if plan.request is None:
            # Nothing this integration can say (everything resolved without send_resolved,
            # or a change it has no word for); the log must still move on.
            await self._record(plan)
            return True
        if not await self._wait_for_rate_limit(integration):
            return False
        slot = _Slot(self._limits[integration.id])
        try:
            return await self._deliver_and_record(plan, slot)
        finally:
            slot.give()

    async def _wait_for_rate_limit(self, integration: Integration) -> bool:
        bucket = self._buckets.get(integration.id)
        if bucket is None:
            return True
        counted = False
        while (delay := bucket.take()) > 0:
            if not counted:
                metrics.RATE_LIMITED.labels(integration.receiver, integration.integration).inc()
                counted = True
            await self._sleep(delay)
            if self._closing.is_set():
                return False
        return True

    async def _deliver_and_record(self, plan: Plan, slot: _Slot) -> bool:
        integration = plan.integration
        outcome = await self._send(plan, slot)
        if not outcome.ok:
            metrics.NOTIFICATIONS_FAILED.labels(
                integration.receiver, integration.integration, outcome.reason
            ).inc()
            log.warning(
                "notification not delivered",
                extra={
                    "receiver": integration.id,
                    "group_key": plan.flush.group_key,
                    "reason": outcome.reason,
                    "status": outcome.status,
                    "attempts": outcome.attempts,
                    "error": integration.redact(outcome.error),
                    "idempotency_key": plan.notice.key,
                },
            )
            if outcome.reason != "cancelled":
                if self.observer is not None:
                    self.observer.undeliverable(integration, plan, outcome)
                self._fall_back(plan)
            return False
        delivered_at = self._clock()
        await self._record(plan)
        status = "firing" if plan.firing else "resolved"
        metrics.NOTIFICATIONS_SENT.labels(
            integration.receiver, integration.integration, status
        ).inc()
        latency = metrics.DELIVERY_LATENCY.labels(integration.receiver, integration.integration)
        for event_ms in plan.news:
            latency.observe(max(0.0, delivered_at - event_ms / 1000))
        log.info(
            "notification delivered",
            extra={
                "receiver": integration.id,
                "group_key": plan.flush.group_key,
                "status": plan.notice.status,
                "alerts": len(plan.flush.alerts),
                "attempts": outcome.attempts,
                "idempotency_key": plan.notice.key,
            },
        )
        if self.observer is not None:
            self.observer.delivered(integration, plan)
        if not plan.target.stream:
            await self._forget_fallbacks(plan)
        return True

    def _fall_back(self, plan: Plan) -> None:
        if plan.target.stream:
            return  # a fallback's own failure does not cascade further
        fallback = self.fallbacks.get(plan.integration.receiver)
        if fallback is None or fallback not in self.integrations:
            return
        self.submit(
            plan.flush,
            targets=[Target(fallback, stream=f"fallback:{plan.integration.id}")],
            context=plan.notice.context,
        )

    async def _forget_fallbacks(self, plan: Plan) -> None:
        """The integration is delivering again: its fallback's log for the group goes."""
        fallback = self.fallbacks.get(plan.integration.receiver)
        log_key = _log_key(plan.flush.group_key, f"fallback:{plan.integration.id}")
        for other in self.integrations.get(fallback or "", ()):
            if self.nflog.get(other.id, log_key) is None:
                continue
            entry = Entry(other.id, log_key, frozenset(), frozenset(), int(self._clock() * 1000))
            await self._write(*self.nflog.log(entry), other.id, log_key)

    async def _send(self, plan: Plan, slot: _Slot) -> Outcome:
        integration = plan.integration
        client = self._clients[integration.id]
        request = plan.request
        assert request is not None

        async def attempt() -> Any:
            # A slot is held from the request until the delivery is in the log, so that
            # at most max_in_flight notifications per integration are ever "sent but not
            # yet logged" (what a crash would send again). It is given back while
            # waiting to retry: nothing was delivered then.
            await slot.take()
            try:
                answer = await integration.send(client, request, self._clock())
            except BaseException:
                slot.give()
                raise
            ok = (
                answer.verdict == "ok"
                if not isinstance(answer, httpx.Response)
                else integration.classify(answer) == "ok"
            )
            if not ok:
                slot.give()
            return answer

        def count(result: str, status: int | None) -> None:
            metrics.ATTEMPTS.labels(integration.receiver, integration.integration, result).inc()
            if result != "success":
                log.info(
                    "notification attempt failed",
                    extra={"receiver": integration.id, "result": result, "status": status},
                )

        outcome = await deliver(
            attempt,
            self.policy,
            rng=self._rng,
            sleep=self._sleep,
            clock=self._clock,
            stopping=self._closing.is_set,
            on_attempt=count,
            classify_response=integration.classify,
        )
        return replace(outcome, error=integration.redact(outcome.error))

    async def _sleep(self, seconds: float) -> None:
        """Wait before a retry, but not past shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    async def _record(self, plan: Plan) -> None:
        entry = Entry(
            plan.integration.id,
            plan.log_key,
            plan.firing,
            plan.resolved,
            int(self._clock() * 1000),
            plan.notice.key,
            plan.flapping,
            plan.notice.context.ack,
        )
        key, value = self.nflog.log(entry)
        await self._write(key, value, plan.integration.id, plan.flush.group_key)

    async def _write(self, key: bytes, value: bytes | None, receiver: str, group: str) -> None:
        metrics.NFLOG_ENTRIES.set(len(self.nflog))
        try:
            await self._persist(key, value)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Delivered, and remembered by this process; only a restart before the log
            # recovers would send it again (with the same Idempotency-Key).
            metrics.NFLOG_WRITES.labels("failed").inc()
            self.log_write_error = str(exc)
            log.error(
                "notification log write failed",
                extra={"receiver": receiver, "group_key": group, "error": str(exc)},
            )
        else:
            metrics.NFLOG_WRITES.labels("ok").inc()
            self.log_write_error = None


def _log_key(group_key: str, stream: str) -> str:
    return f"{group_key}#{stream}" if stream else group_key


def _dedupe(targets: Sequence[Target]) -> list[Target]:
    """One target per (receiver, stream): the route's receiver may also be paged."""
    merged: dict[tuple[str, str], Target] = {}
    for target in targets:
        ident = (target.receiver, target.stream)
        merged[ident] = merged[ident].merge(target) if ident in merged else target
    return list(merged.values())
