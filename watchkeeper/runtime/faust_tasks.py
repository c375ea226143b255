"""The Faust engine's tasks, one per input partition, and the order their records leave in.

Faust runs one agent per input topic, and its assignor gives partition *p* of every input
with the same partition count to one worker, so task *p* hears from up to one agent per
input topic, and from a timer that ticks every task. :class:`Partitions` keeps that
correct without Kafka (the engine hands it the callables that talk to the broker):

* a task is made the first time its partition is seen, restored from its changelog off
  the event loop (the consumer keeps heartbeating meanwhile) and told ``restored()``
  once, before any event or tick reaches it; agents that see the partition during the
  restore wait for the same one;
* after each event and each tick the task is drained, and what it gave is delivered in
  drain order per task (a FIFO lock: a changelog record must not overtake an older one of
  the same key): outputs first, acknowledged, then the changelog records. A crash in
  between repeats an output after the restart (at-least-once); the other order could
  lose one (the changelog would say a window was closed whose aggregate never landed);
* the caller awaits the delivery before it lets Faust commit the input offset;
* a task whose partition left the assignment is dropped: if the partition comes back,
  its task is restored again from what the other owner wrote meanwhile.

>>> import asyncio
>>> from watchkeeper.kit.task import BaseTask, Output
>>> class Echo(BaseTask):
...     def process(self, topic, record):
...         self.outputs.append(Output("echo", b"k", record["v"]))
...         self.changes[b"last"] = record["v"]
>>> sent = []
>>> async def outputs(records):
...     sent.append([r.value for r in records])
>>> async def changes(partition, records):
...     sent.append((partition, records))
>>> parts = Partitions(lambda p: Echo(), outputs, changes, restore=None)
>>> async def feed():
...     for v in (b"a", b"b"):
...         pending = parts.handle(2, "in", {"v": v})
...         if pending is not None:
...             await pending
>>> asyncio.run(feed())
>>> sent
[[b'a'], (2, [(b'last', b'a')]), [b'b'], (2, [(b'last', b'b')])]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..kit.task import Change, Output, Task

SendOutputs = Callable[[list[Output]], Awaitable[None]]
SendChanges = Callable[[int, list[Change]], Awaitable[None]]
# Blocking: reads partition p's changelog into the task; returns how many records.
Restore = Callable[[int, Task], int]


class _Slot:
    __slots__ = ("lock", "task")

    def __init__(self, task: Task) -> None:
        self.task = task
        self.lock = asyncio.Lock()


class Partitions:
    """Task *p* for every input partition *p* this worker was handed."""

    def __init__(
        self,
        factory: Callable[[int], Task],
        outputs: SendOutputs,
        changes: SendChanges | None,
        restore: Restore | None,
    ) -> None:
        self.factory = factory
        self._send_outputs = outputs
        # Without a state topic a task's changelog records have nowhere to go (the batch
        # engine drops them too).
        self._send_changes = changes
        self._restore = restore
        self._slots: dict[int, _Slot] = {}
        self._making: dict[int, asyncio.Future[_Slot]] = {}
        self._dropped: dict[int, _Slot] = {}

    def numbers(self) -> list[int]:
        return sorted(self._slots)

    def handle(self, partition: int, topic: str, record: dict[str, Any]) -> Awaitable[None] | None:
        """Process one event; an awaitable when something must be awaited (a restore, a
        delivery), else None: an event that gives nothing costs no coroutine."""
        slot = self._slots.get(partition)
        if slot is None:
            return self._first(partition, topic, record)
        task = slot.task
        task.process(topic, record)
        outputs, changes = task.drain()
        if outputs or (changes and self._send_changes is not None):
            return self._deliver(partition, slot, outputs, changes)
        return None

    async def _first(self, partition: int, topic: str, record: dict[str, Any]) -> None:
        slot = await self._slot(partition)
        slot.task.process(topic, record)
        outputs, changes = slot.task.drain()
        await self._deliver(partition, slot, outputs, changes)

    async def _slot(self, partition: int) -> _Slot:
        making = self._making.get(partition)
        if making is None:
            making = asyncio.ensure_future(self._make(partition))
            self._making[partition] = making
            making.add_done_callback(lambda _: self._making.pop(partition, None))
        # Shielded: one agent cancelled while it waits must not cancel the others' restore.
        return await asyncio.shield(making)

    async def _make(self, partition: int) -> _Slot:
        old = self._dropped.pop(partition, None)
        if old is not None:
            # What the dropped task still delivers belongs in the changelog we read next.
            async with old.lock:
                pass
        task = self.factory(partition)
        if self._restore is not None:
            await asyncio.to_thread(self._restore, partition, task)
        task.restored()
        slot = self._slots[partition] = _Slot(task)
        return slot

    async def _deliver(
        self, partition: int, slot: _Slot, outputs: list[Output], changes: list[Change]
    ) -> None:
        if not outputs and not (changes and self._send_changes is not None):
            return
        async with slot.lock:
            if outputs:
                await self._send_outputs(outputs)
            if changes and self._send_changes is not None:
                await self._send_changes(partition, changes)

    async def tick(self, now_ms: int) -> None:
        """Wall-clock time passed: every task closes what is due; its records are delivered."""
        for partition, slot in list(self._slots.items()):
            slot.task.tick(now_ms)
            outputs, changes = slot.task.drain()
            await self._deliver(partition, slot, outputs, changes)

    def keep_only(self, assigned: Iterable[int]) -> list[int]:
        """The new assignment: drop the tasks of partitions not in it; return their numbers."""
        keep = set(assigned)
        gone = [p for p in self._slots if p not in keep]
        for partition in gone:
            self._dropped[partition] = self._slots.pop(partition)
        return sorted(gone)
