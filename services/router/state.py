"""The router's state topics and how its records are written to them.

Every decision that must survive a restart is a record on a compacted topic: what each
receiver was told (``notification-log``), silences, escalations (the stage each reached)
and incidents. A write that fails is counted and logged; an operation a person asked for
(an acknowledgement, a silence) raises :class:`StateWriteError` instead, and the API
answers 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from . import escalation as esc_mod
from . import metrics
from .escalation import Escalation
from .incidents import IncidentBook

log = logging.getLogger("services.router.engine")

Persist = Callable[[str, bytes, bytes | None], Awaitable[None]]

NFLOG, SILENCES, ESCALATIONS, INCIDENTS = (
    "notification-log",
    "silences",
    "escalations",
    "incidents",
)
STATE_TOPICS = (NFLOG, SILENCES, ESCALATIONS, INCIDENTS)


class StateWriteError(RuntimeError):
    """A state record the broker did not take; the API answers 503 with it."""


class StateWriter:
    def __init__(self, persist: Persist, incidents: IncidentBook) -> None:
        self._persist = persist
        self._incidents = incidents
        self._tasks: set[asyncio.Task] = set()

    async def write(
        self, topic: str, key: bytes, value: bytes | None, raise_errors: bool = False
    ) -> None:
        try:
            await self._persist(topic, key, value)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            metrics.STATE_WRITES.labels(topic, "failed").inc()
            log.error("state write failed", extra={"topic": topic, "error": str(exc)})
            if raise_errors:
                raise StateWriteError(f"{topic}: {exc}") from None
        else:
            metrics.STATE_WRITES.labels(topic, "ok").inc()

    async def escalation(
        self, esc: Escalation, gone: bool = False, raise_errors: bool = False
    ) -> None:
        """The escalation's record (a tombstone once ``gone``), and its incident's."""
        key = esc.group_key.encode()
        await self.write(
            ESCALATIONS, key, None if gone else esc_mod.encode(esc), raise_errors=raise_errors
        )
        if esc.incident_id:
            await self.write(INCIDENTS, *self._incidents.update(esc), raise_errors=raise_errors)

    def spawn(self, work: Awaitable[None]) -> None:
        """Run ``work`` in the background (writes and pages that nobody waits for)."""
        task = asyncio.get_running_loop().create_task(work)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
