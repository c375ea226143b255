"""The delivery pipeline of one planned notification, as Alertmanager's notify stages.

A :class:`Delivery` goes through stages in turn; each does one thing and says whether
the delivery goes on (``Stage.exec``), as Alertmanager's ``Stage.Exec(ctx, alerts)``:

1. :class:`RateLimitStage`: wait for the integration's token bucket, if it has one;
2. :class:`RetryStage`: send through the transport until delivered, rejected, or the
   retry budget is spent; a failure is counted, logged and reported to ``on_failed``
   (the router raises a meta-alert, the fallback receiver is told);
3. :class:`SetNotifiesStage`: the entry goes into the notification log in memory at once
   and is written to the topic; the stage returns once the broker acknowledged it. A crash
   between the receiver's 2xx and that acknowledgement is the one window where a
   notification can be sent twice; the re-send carries the same ``Idempotency-Key``;
4. :class:`ReportStage`: metrics, the log line, ``on_delivered``.

A plan with nothing to send (everything resolved without ``send_resolved``, or a change
the integration has no word for) skips straight to the log, which must still move on.
Deduplication (Alertmanager's DedupStage) happened before, in ``planning.plan``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from . import metrics
from .nflog import NotificationLog
from .planning import Plan
from .ratelimit import TokenBucket
from .retry import Outcome, RetryPolicy, deliver
from .transport import Slot, Transport

log = logging.getLogger("services.router.notify")

Persist = Callable[[bytes, bytes | None], Awaitable[None]]


@dataclass
class Delivery:
    plan: Plan
    ok: bool = True  # what the submitter hears once the pipeline stopped
    slot: Slot | None = None  # held from the request until the delivery is in the log
    outcome: Outcome | None = None
    delivered_at: float = 0.0


class Stage(Protocol):
    async def exec(self, delivery: Delivery) -> bool:
        """Do this stage's part; False stops the pipeline (``delivery.ok`` says how)."""
        ...


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)

    async def run(self, plan: Plan) -> bool:
        delivery = Delivery(plan)
        try:
            for stage in self.stages:
                if not await stage.exec(delivery):
                    break
        finally:
            if delivery.slot is not None:
                delivery.slot.give()
        return delivery.ok


class Waiter:
    """Sleeping that ends early at shutdown."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), timeout=seconds)


class RateLimitStage:
    def __init__(self, buckets: dict[str, TokenBucket], waiter: Waiter) -> None:
        self._buckets = buckets
        self._waiter = waiter

    async def exec(self, delivery: Delivery) -> bool:
        integration = delivery.plan.integration
        bucket = self._buckets.get(integration.id)
        if delivery.plan.request is None or bucket is None:
            return True
        counted = False
        while (delay := bucket.take()) > 0:
            if not counted:
                metrics.RATE_LIMITED.labels(integration.receiver, integration.integration).inc()
                counted = True
            await self._waiter.sleep(delay)
            if self._waiter.closing.is_set():
                delivery.ok = False
                return False
        return True


class RetryStage:
    def __init__(
        self,
        transport: Transport,
        policy: RetryPolicy,
        waiter: Waiter,
        clock: Callable[[], float],
        rng: random.Random,
        on_failed: Callable[[Plan, Outcome], None],
    ) -> None:
        self._transport = transport
        self._policy = policy
        self._waiter = waiter
        self._clock = clock
        self._rng = rng
        self._on_failed = on_failed

    async def exec(self, delivery: Delivery) -> bool:
        plan = delivery.plan
        request = plan.request
        if request is None:
            return True
        integration = plan.integration
        slot = delivery.slot = self._transport.slot(integration)

        def count(result: str, status: int | None) -> None:
            metrics.ATTEMPTS.labels(integration.receiver, integration.integration, result).inc()
            if result != "success":
                log.info(
                    "notification attempt failed",
                    extra={"receiver": integration.id, "result": result, "status": status},
                )

        outcome = await deliver(
            lambda: self._transport.send(integration, request, slot),
            self._policy,
            rng=self._rng,
            sleep=self._waiter.sleep,
            clock=self._clock,
            stopping=self._waiter.closing.is_set,
            on_attempt=count,
        )
        outcome = delivery.outcome = replace(outcome, error=integration.redact(outcome.error))
        if outcome.ok:
            delivery.delivered_at = self._clock()
            return True
        delivery.ok = False
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
            self._on_failed(plan, outcome)
        return False


class LogWriter:
    """Writes notification-log entries to the topic, and remembers the last failure."""

    def __init__(self, nflog: NotificationLog, persist: Persist) -> None:
        self.nflog = nflog
        self._persist = persist
        self.error: str | None = None  # the last failed write, until one succeeds

    async def write(self, key: bytes, value: bytes | None, receiver: str, group: str) -> None:
        metrics.NFLOG_ENTRIES.set(len(self.nflog))
        try:
            await self._persist(key, value)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Delivered, and remembered by this process; only a restart before the log
            # recovers would send it again (with the same Idempotency-Key).
            metrics.NFLOG_WRITES.labels("failed").inc()
            self.error = str(exc)
            log.error(
                "notification log write failed",
                extra={"receiver": receiver, "group_key": group, "error": str(exc)},
            )
        else:
            metrics.NFLOG_WRITES.labels("ok").inc()
            self.error = None


class SetNotifiesStage:
    def __init__(self, writer: LogWriter, clock: Callable[[], float]) -> None:
        self._writer = writer
        self._clock = clock

    async def exec(self, delivery: Delivery) -> bool:
        plan = delivery.plan
        key, value = self._writer.nflog.log(plan.entry(int(self._clock() * 1000)))
        await self._writer.write(key, value, plan.integration.id, plan.flush.group_key)
        return plan.request is not None  # nothing was sent: nothing to report


class ReportStage:
    def __init__(self, on_delivered: Callable[[Plan], Awaitable[None]]) -> None:
        self._on_delivered = on_delivered

    async def exec(self, delivery: Delivery) -> bool:
        plan, outcome = delivery.plan, delivery.outcome
        assert outcome is not None
        integration = plan.integration
        status = "firing" if plan.firing else "resolved"
        metrics.NOTIFICATIONS_SENT.labels(
            integration.receiver, integration.integration, status
        ).inc()
        latency = metrics.DELIVERY_LATENCY.labels(integration.receiver, integration.integration)
        for event_ms in plan.news:
            latency.observe(max(0.0, delivery.delivered_at - event_ms / 1000))
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
        await self._on_delivered(plan)
        return True
