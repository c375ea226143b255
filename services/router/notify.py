"""From flushes to delivered notifications: the notifier puts the stages together.

``submit`` takes a flush and its targets (``planning``), queues each integration's share
in its lane (``lanes``: one delivery per integration and group at a time), plans it when
its turn comes, and runs the plan through the delivery stages (``stages``), which send
through the ``transport``. Each integration (one ``*_configs`` entry of a receiver) is a
pipeline of its own: its own HTTP client, connection pool and concurrency limit, its own
rate limit and retries, its own notification-log entries. A receiver that fails or hangs
never delays or repeats another.

When the retry budget is spent (or the receiver rejects the notification), the observer
hears of it (the router raises a meta-alert) and the receiver's **fallback** receiver, if
it has one, gets the notification under a log stream of its own
(``<group key>#fallback:<integration>``), so it is told once per state, not at every flush.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from . import metrics
from .dispatch import Flush
from .integrations.base import Context, Integration
from .integrations.registry import integration_for
from .lanes import Done, Item, Job, Lanes
from .nflog import Entry, NotificationLog
from .planning import Plan, Target, assign, log_key, plan
from .ratelimit import RateLimit, TokenBucket
from .retry import Outcome, RetryPolicy
from .stages import (
    LogWriter,
    Persist,
    Pipeline,
    RateLimitStage,
    ReportStage,
    RetryStage,
    SetNotifiesStage,
    Waiter,
)
from .transport import Transport

log = logging.getLogger(__name__)

__all__ = ["Notifier", "Observer", "Plan", "Target"]


def _ignore(flush: Flush, ok: bool) -> None:
    """on_done for submissions that are not the group's own flush (pages, fallbacks)."""


class Observer(Protocol):
    def delivered(self, integration: Integration, plan: Plan) -> None: ...

    def undeliverable(self, integration: Integration, plan: Plan, outcome: Outcome) -> None: ...


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
        self.nflog = nflog
        self.policy = policy or RetryPolicy()
        self.external_url = external_url
        self.fallbacks = dict(fallbacks or {})
        self.observer = observer
        self._clock = clock
        self.integrations: dict[str, tuple[Integration, ...]] = {
            name: tuple(integration_for(config) for config in configs)
            for name, configs in receivers.items()
        }
        every = [i for integrations in self.integrations.values() for i in integrations]
        buckets = {
            i.id: TokenBucket(limit.count, limit.period_s, clock)
            for i in every
            if (limit := (rate_limits or {}).get(i.receiver)) is not None
        }
        self._transport = Transport(every, max_in_flight, clock)
        self._waiter = Waiter()
        self._writer = LogWriter(nflog, persist)
        self._lanes = Lanes(self._delivery)
        self._pipeline = Pipeline(
            [
                RateLimitStage(buckets, self._waiter),
                RetryStage(
                    self._transport,
                    self.policy,
                    self._waiter,
                    clock,
                    rng or random.Random(),
                    self._undeliverable,
                ),
                SetNotifiesStage(self._writer, clock),
                ReportStage(self._delivered),
            ]
        )

    @property
    def log_write_error(self) -> str | None:
        """The last failed notification-log write, until one succeeds."""
        return self._writer.error

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
        pairs = assign(flush, targets, self.integrations)
        if not pairs:
            on_done(flush, True)  # receivers without integrations swallow everything
            return
        job = Job(flush, len(pairs), on_done)
        for integration, target in pairs:
            self._lanes.offer(Item(integration, target, flush, context, job))

    async def idle(self) -> None:
        """Wait until nothing is being delivered (for tests and shutdown)."""
        await self._lanes.idle()

    async def close(self, timeout_s: float) -> int:
        """Stop taking flushes; give running deliveries ``timeout_s``; return how many
        were abandoned (they were not logged, so the next process sends them)."""
        self._waiter.closing.set()
        abandoned = await self._lanes.close(timeout_s)
        await self._transport.close()
        return abandoned

    # -- one integration's share ----------------------------------------------------------

    def _delivery(self, item: Item) -> Awaitable[bool] | None:
        integration = item.integration
        previous = self.nflog.get(integration.id, log_key(item.flush.group_key, item.target.stream))
        planned = plan(
            integration,
            item.target,
            item.flush,
            item.context,
            previous,
            self._clock(),
            self.external_url,
        )
        return None if planned is None else self._run(planned)

    async def _run(self, plan: Plan) -> bool:
        integration = plan.integration
        gauge = metrics.IN_FLIGHT.labels(integration.receiver, integration.integration)
        gauge.inc()
        try:
            return await self._pipeline.run(plan)
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
            return False
        finally:
            gauge.dec()

    # -- after delivery -----------------------------------------------------------------

    def _undeliverable(self, plan: Plan, outcome: Outcome) -> None:
        if self.observer is not None:
            self.observer.undeliverable(plan.integration, plan, outcome)
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

    async def _delivered(self, plan: Plan) -> None:
        if self.observer is not None:
            self.observer.delivered(plan.integration, plan)
        if not plan.target.stream:
            await self._forget_fallbacks(plan)

    async def _forget_fallbacks(self, plan: Plan) -> None:
        """The integration is delivering again: its fallback's log for the group goes."""
        fallback = self.fallbacks.get(plan.integration.receiver)
        key = log_key(plan.flush.group_key, f"fallback:{plan.integration.id}")
        for other in self.integrations.get(fallback or "", ()):
            if self.nflog.get(other.id, key) is None:
                continue
            entry = Entry(other.id, key, frozenset(), frozenset(), int(self._clock() * 1000))
            await self._writer.write(*self.nflog.log(entry), other.id, key)
