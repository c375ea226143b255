"""Per (integration, group) queues: at most one delivery at a time, and one waiting.

A flush that comes while the previous one is still being delivered (or retried) waits,
and a newer flush replaces a waiting one, since it carries the newer state of the group
(their targets are merged, so an escalation page waiting there is not lost). A receiver
that fails or hangs only ever holds up its own lanes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .dispatch import Flush
from .integrations.base import Context, Integration
from .planning import Target, log_key

Done = Callable[[Flush, bool], None]


class Job:
    """One submitted flush across its integrations; reports back once all are done."""

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


@dataclass
class Item:
    """One integration's share of a job, queued in its lane."""

    integration: Integration
    target: Target
    flush: Flush
    context: Context
    job: Job

    @property
    def lane(self) -> tuple[str, str]:
        return (self.integration.id, log_key(self.flush.group_key, self.target.stream))


@dataclass
class _Lane:
    task: asyncio.Task | None = None
    waiting: Item | None = None


# Starts the delivery of an item; None when there is nothing to deliver (done, ok).
Start = Callable[[Item], Awaitable[bool] | None]


class Lanes:
    def __init__(self, start: Start) -> None:
        self._start_delivery = start
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self.closing = False

    def offer(self, item: Item) -> None:
        if self.closing:
            item.job.finish(False)
            return
        lane = self._lanes.get(item.lane)
        if lane is not None and lane.task is not None:
            if lane.waiting is not None:
                item.target = lane.waiting.target.merge(item.target)
                lane.waiting.job.finish(False)  # superseded: the newer flush decides
            lane.waiting = item
            return
        self._start(item)

    def _start(self, item: Item) -> None:
        # Planned only now, against the log as the previous delivery left it.
        work = self._start_delivery(item)
        if work is None:
            self._lanes.pop(item.lane, None)
            item.job.finish(True)
            return
        lane = self._lanes.setdefault(item.lane, _Lane())
        lane.task = asyncio.get_running_loop().create_task(
            self._run(item, work), name=f"notify {item.lane[0]} {item.lane[1]}"
        )

    async def _run(self, item: Item, work: Awaitable[bool]) -> None:
        ok = False
        try:
            ok = await work
        finally:
            item.job.finish(ok)
            lane = self._lanes.get(item.lane)
            if lane is not None:
                lane.task = None
                waiting, lane.waiting = lane.waiting, None
                if waiting is not None and not self.closing:
                    self._start(waiting)
                elif waiting is not None:
                    waiting.job.finish(False)
                if lane.task is None:
                    self._lanes.pop(item.lane, None)

    async def idle(self) -> None:
        """Wait until nothing is being delivered."""
        while tasks := [lane.task for lane in self._lanes.values() if lane.task]:
            await asyncio.wait(tasks)

    async def close(self, timeout_s: float) -> int:
        """Drop what waits; give running deliveries ``timeout_s``; return how many were
        abandoned."""
        self.closing = True
        for lane in self._lanes.values():
            if lane.waiting:
                lane.waiting.job.finish(False)
                lane.waiting = None
        tasks = [lane.task for lane in self._lanes.values() if lane.task]
        if not tasks:
            return 0
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        return len(pending)
