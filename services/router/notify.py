"""From flushes to delivered notifications: dedup, send with retries, log what got through.

Each integration (one ``webhook_configs`` entry of a receiver) is a pipeline of its own:
its own HTTP client, connection pool and concurrency limit, its own retries, its own
notification-log entries. A receiver that fails or hangs never delays or repeats another.

Per (integration, group) at most one delivery runs at a time: a flush that comes while the
previous one is still being delivered (or retried) waits, and a newer flush replaces a
waiting one, since it carries the newer state of the group.

After a 2xx, the entry goes into the notification log in memory at once and is written to
the topic right away; ``persist`` returns once the broker has acknowledged it. A crash
between the receiver's 2xx and that acknowledgement is the one window where a notification
can be sent twice; the re-send carries the same ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from . import metrics, webhook
from .dispatch import Flush
from .nflog import Entry, NotificationLog, needs_update
from .retry import Outcome, RetryPolicy, deliver
from .webhook import WebhookConfig

log = logging.getLogger(__name__)

USER_AGENT = "watchkeeper-router/0.1"

Persist = Callable[[bytes, bytes | None], Awaitable[None]]
Done = Callable[[Flush, bool], None]


@dataclass(frozen=True)
class _Plan:
    """What one integration is about to be told about one group."""

    config: WebhookConfig
    flush: Flush
    firing: frozenset[str]
    resolved: frozenset[str]
    body: bytes | None  # None: nothing to send, only the log to update
    key: str
    news: tuple[int, ...]  # event_time_ms of the alerts that are news to the receiver


class _Job:
    """One flush across the integrations of its receiver; reports back once all are done."""

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
class _Lane:
    task: asyncio.Task | None = None
    waiting: tuple[Flush, _Job] | None = None


class Notifier:
    def __init__(
        self,
        receivers: Mapping[str, Sequence[WebhookConfig]],
        nflog: NotificationLog,
        persist: Persist,
        *,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        external_url: str = "",
        max_in_flight: int = 32,
    ) -> None:
        self.receivers = receivers
        self.nflog = nflog
        self.policy = policy or RetryPolicy()
        self.external_url = external_url
        self._persist = persist
        self._clock = clock
        self._rng = rng or random.Random()
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._closing = asyncio.Event()
        self.log_write_error: str | None = None  # the last failed write, until one succeeds
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        for configs in receivers.values():
            for config in configs:
                # One pool per integration: a receiver that hangs cannot take the
                # connections another one needs.
                self._clients[config.id] = httpx.AsyncClient(
                    follow_redirects=False,
                    headers={"User-Agent": USER_AGENT},
                    limits=httpx.Limits(
                        max_connections=max_in_flight, max_keepalive_connections=max_in_flight
                    ),
                )
                self._limits[config.id] = asyncio.Semaphore(max_in_flight)

    # -- intake -----------------------------------------------------------------------

    def submit(self, flush: Flush, on_done: Done) -> None:
        """Hand a flush to every integration of its receiver; never blocks."""
        configs = self.receivers.get(flush.route.opts.receiver, ())
        if not configs:
            on_done(flush, True)  # a receiver without integrations swallows everything
            return
        job = _Job(flush, len(configs), on_done)
        for config in configs:
            self._offer(config, flush, job)

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
                lane.waiting[1].finish(False)
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

    def _offer(self, config: WebhookConfig, flush: Flush, job: _Job) -> None:
        if self._closing.is_set():
            job.finish(False)
            return
        ident = (config.id, flush.group_key)
        lane = self._lanes.get(ident)
        if lane is not None and lane.task is not None:
            if lane.waiting is not None:
                lane.waiting[1].finish(False)  # superseded: the newer flush decides
            lane.waiting = (flush, job)
            return
        self._start(config, flush, job)

    def _start(self, config: WebhookConfig, flush: Flush, job: _Job) -> None:
        ident = (config.id, flush.group_key)
        plan = self._plan(config, flush)
        if plan is None:
            self._lanes.pop(ident, None)
            job.finish(True)
            return
        lane = self._lanes.setdefault(ident, _Lane())
        lane.task = asyncio.get_running_loop().create_task(
            self._run(plan, job, ident), name=f"notify {config.id} {flush.group_key}"
        )

    async def _run(self, plan: _Plan, job: _Job, ident: tuple[str, str]) -> None:
        config = plan.config
        gauge = metrics.IN_FLIGHT.labels(config.receiver, config.integration)
        gauge.inc()
        ok = False
        try:
            ok = await self._execute(plan)
        except asyncio.CancelledError:
            metrics.NOTIFICATIONS_FAILED.labels(
                config.receiver, config.integration, "cancelled"
            ).inc()
            raise
        except Exception:
            log.exception(
                "notification failed unexpectedly",
                extra={"receiver": config.id, "group_key": plan.flush.group_key},
            )
        finally:
            gauge.dec()
            job.finish(ok)
            lane = self._lanes.get(ident)
            if lane is not None:
                lane.task = None
                waiting, lane.waiting = lane.waiting, None
                if waiting is not None and not self._closing.is_set():
                    self._start(config, *waiting)
                elif waiting is not None:
                    waiting[1].finish(False)
                if lane.task is None:
                    self._lanes.pop(ident, None)

    def _plan(self, config: WebhookConfig, flush: Flush) -> _Plan | None:
        firing = frozenset(a.fingerprint for a in flush.alerts if a.firing)
        resolved = frozenset(a.fingerprint for a in flush.alerts if not a.firing)
        previous = self.nflog.get(config.id, flush.group_key)
        if not needs_update(
            previous,
            firing,
            resolved,
            send_resolved=config.send_resolved,
            repeat_interval_s=flush.route.opts.repeat_interval,
            now_s=self._clock(),
        ):
            return None
        alerts = flush.alerts if config.send_resolved else [a for a in flush.alerts if a.firing]
        key = webhook.idempotency_key(
            config.id,
            flush.group_key,
            flush.alerts,
            previous.timestamp_ms if previous else None,
        )
        body = None
        if alerts:
            body = webhook.encode(
                webhook.payload(
                    config.receiver,
                    flush.group_key,
                    flush.labels,
                    alerts,
                    self.external_url,
                    config.max_alerts,
                )
            )
        seen_firing = previous.firing if previous else frozenset()
        seen_resolved = previous.resolved if previous else frozenset()
        news = tuple(
            a.event_time_ms
            for a in alerts
            if (a.firing and a.fingerprint not in seen_firing)
            or (not a.firing and a.fingerprint not in seen_resolved)
        )
        return _Plan(config, flush, firing, resolved, body, key, news)

    async def _execute(self, plan: _Plan) -> bool:
        config = plan.config
        if plan.body is None:
            # Everything resolved and this receiver does not want to hear it: no request,
            # but the log must stop believing the group is firing.
            await self._record(plan)
            return True
        slot = _Slot(self._limits[config.id])
        try:
            return await self._deliver_and_record(plan, slot)
        finally:
            slot.give()

    async def _deliver_and_record(self, plan: _Plan, slot: _Slot) -> bool:
        config = plan.config
        outcome = await self._send(plan, slot)
        if not outcome.ok:
            metrics.NOTIFICATIONS_FAILED.labels(
                config.receiver, config.integration, outcome.reason
            ).inc()
            log.warning(
                "notification not delivered",
                extra={
                    "receiver": config.id,
                    "group_key": plan.flush.group_key,
                    "reason": outcome.reason,
                    "status": outcome.status,
                    "attempts": outcome.attempts,
                    "error": outcome.error,
                    "idempotency_key": plan.key,
                },
            )
            return False
        delivered_at = self._clock()
        await self._record(plan)
        status = "firing" if plan.firing else "resolved"
        metrics.NOTIFICATIONS_SENT.labels(config.receiver, config.integration, status).inc()
        latency = metrics.DELIVERY_LATENCY.labels(config.receiver, config.integration)
        for event_ms in plan.news:
            latency.observe(max(0.0, delivered_at - event_ms / 1000))
        log.info(
            "notification delivered",
            extra={
                "receiver": config.id,
                "group_key": plan.flush.group_key,
                "status": status,
                "alerts": len(plan.flush.alerts),
                "attempts": outcome.attempts,
                "idempotency_key": plan.key,
            },
        )
        return True

    async def _send(self, plan: _Plan, slot: _Slot) -> Outcome:
        config = plan.config
        client = self._clients[config.id]
        headers = {"Content-Type": "application/json", "Idempotency-Key": plan.key}
        assert plan.body is not None

        async def attempt() -> httpx.Response:
            # A slot is held from the request until the delivery is in the log, so that
            # at most max_in_flight notifications per integration are ever "sent but not
            # yet logged" (what a crash would send again). It is given back while
            # waiting to retry: nothing was delivered then.
            await slot.take()
            try:
                response = await client.post(
                    config.url, content=plan.body, headers=headers, timeout=config.timeout_s
                )
            except BaseException:
                slot.give()
                raise
            if not 200 <= response.status_code < 300:
                slot.give()
            return response

        def count(result: str, status: int | None) -> None:
            metrics.ATTEMPTS.labels(config.receiver, config.integration, result).inc()
            if result != "success":
                log.info(
                    "notification attempt failed",
                    extra={"receiver": config.id, "result": result, "status": status},
                )

        return await deliver(
            attempt,
            self.policy,
            rng=self._rng,
            sleep=self._sleep,
            clock=self._clock,
            stopping=self._closing.is_set,
            on_attempt=count,
        )

    async def _sleep(self, seconds: float) -> None:
        """Wait before a retry, but not past shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    async def _record(self, plan: _Plan) -> None:
        entry = Entry(
            plan.config.id,
            plan.flush.group_key,
            plan.firing,
            plan.resolved,
            int(self._clock() * 1000),
            plan.key,
        )
        key, value = self.nflog.log(entry)
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
                extra={
                    "receiver": plan.config.id,
                    "group_key": plan.flush.group_key,
                    "error": str(exc),
                },
            )
        else:
            metrics.NFLOG_WRITES.labels("ok").inc()
            self.log_write_error = None
