"""A controller's loop for what a control-plane service's state asks of the world outside
Kafka (call a hook, move an alias, launch a pipeline): the entities with work left are
kept as they are committed (replay included); every ``pass_s`` each gets its next piece
of work done on its own task (one at a time per entity), which records the result with a
command. A restart finds the same work left in the replayed state and does it again,
with the same idempotency keys: the world sees a retry, not a second act.

Subclasses say which entities have work (:meth:`work_left`) and do the next piece
(:meth:`step`); :meth:`later` puts an entity off (a backoff, a wait for a deadline), and a
new committed state of it cancels that (its work starts now).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .commands import Command, Rejected
from .events import Entity

log = logging.getLogger(__name__)


class Controller:
    kind = ""  # the entities it looks after
    actor = "reconciler"

    def __init__(self, service: Any, pass_s: float = 0.2) -> None:
        self.service = service
        self.pass_s = pass_s
        self.pending: dict[str, Entity] = {}
        self._not_before: dict[str, float] = {}
        self._busy: set[str] = set()

    def work_left(self, data: dict[str, Any]) -> bool:
        raise NotImplementedError

    async def step(self, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def committed(self, entity: Entity) -> None:
        """After each commit (and during replay): keep the entities with work left."""
        if entity.kind != self.kind:
            return
        self._not_before.pop(entity.key, None)
        if self.work_left(entity.data):
            self.pending[entity.key] = entity
        else:
            self.pending.pop(entity.key, None)

    async def run(self) -> None:
        while True:
            now = time.monotonic()
            for key, entity in list(self.pending.items()):
                if key in self._busy or self._not_before.get(key, 0.0) > now:
                    continue
                self._busy.add(key)
                asyncio.get_running_loop().create_task(self._settle(entity))
            await asyncio.sleep(self.pass_s)  # a controller's period, not a wait for a result

    async def _settle(self, entity: Entity) -> None:
        try:
            await self.step(entity.data)
        except Exception:
            log.exception("reconciling failed; trying again", extra={"entity": entity.key})
            self.later(entity.key, 5.0)
        finally:
            self._busy.discard(entity.key)

    def later(self, key: str, seconds: float) -> None:
        self._not_before[key] = time.monotonic() + seconds

    async def submit(self, name: str, key: str, body: dict[str, Any], what: str) -> Any:
        """Record a piece of work done on entity ``key`` (``what`` names it, for the
        idempotency key); a 503 puts the entity off a second, a refusal is logged."""
        command = Command(name, body, self.actor, f"{key}:{what}", source=self.actor,
                          at_ms=int(time.time() * 1000), path={"id": key})  # fmt: skip
        try:
            return await self.service.submit(command)
        except Rejected as exc:
            if exc.status == 503:
                self.later(key, 1.0)
            else:
                log.info("a controller's command was refused", extra={"reason": exc.reason})
            return None

    async def call(self, fn, *args: Any, **kwargs: Any) -> Any:
        """A blocking client call, off the loop."""
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))
