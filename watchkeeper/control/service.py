"""A control-plane service: replay the history, then take commands from the API (and from
feeds) through one writer that decides a batch, writes it in one transaction and only
then makes it visible.

One writer per service: commands are decided in the order they arrive, each against the
state left by the ones before (see :mod:`watchkeeper.control.store`), and a batch of
however many arrived while the previous one was being written goes out together (group
commit: one transaction for many commands when busy, one per command when quiet).

What happens when things go wrong:

==================  =====================================================================
crash (kill -9)     an unfinished transaction is aborted by the broker; the restart
                    replays the committed history: the same state; a client's retry with
                    its Idempotency-Key gets the first answer or applies the command once
Kafka away          writes wait inside librdkafka up to the call timeout, then the batch
                    is answered 503 (retry with the same key); a call stuck past its
                    bound ends the process (exit 75) and ``/healthz`` says failed first
fenced              another instance took the transactional id: this one exits 1
bad input           400/404/409/413/415/422 with the reason; nothing is written
==================  =====================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram

from ..auth import TokenTable
from ..runtime.http import Health
from ..runtime.startup import apply_topics_with_retry
from ..runtime.watchdog import Watchdog, exit_for_restart
from ..settings import ServiceSettings
from .api import Api
from .commands import Command, Rejected
from .events import Answer, Entity, Event
from .journal import Journal, Unavailable
from .operations import Operation
from .store import Domain, Store

log = logging.getLogger(__name__)
COMMANDS = Counter(
    "wk_control_commands_total", "Commands by outcome.", ["service", "command", "outcome"]
)
BATCH = Histogram(
    "wk_control_batch_commands",
    "Commands per written batch (group commit).",
    ["service"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
EVENTS = Gauge("wk_control_events", "Events in the replayed and written history.", ["service"])


Outgoing = tuple[str, bytes | None, bytes]  # (logical topic, key, value), sent with the batch


class Feed(Protocol):
    """A source of commands besides the API (a topic consumed on a thread of its own)."""

    def start(self, submit: Callable[[Command], Answer], stop: Callable[[], bool]) -> None: ...

    def problem(self) -> str | None: ...

    def join(self, timeout_s: float) -> None: ...


class ControlService:
    def __init__(
        self,
        settings: ServiceSettings,
        version: str,
        domain: Domain,
        operations: Callable[[ControlService], Iterable[Operation]],
        tokens: TokenTable,
        history_topic: str,
        state_topic: str,
        max_body: int = 1 << 20,
        feeds: Iterable[Feed] = (),
        on_commit: Callable[[Event, Entity], None] | None = None,
        outbox: Callable[[Event], Iterable[Outgoing]] | None = None,
        batch_max: int = 500,
        after_ready: Iterable[Callable[[], Awaitable[Any]]] = (),
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.health = Health(self.name)
        self.store = Store(domain, on_commit)
        self.watchdog = Watchdog()
        self.journal = Journal(settings, history_topic, state_topic, self.watchdog)
        self.api = Api(self.name, version, operations(self), tokens, max_body, self.health.report)
        self.feeds = list(feeds)
        self.outbox = outbox
        self.after_ready = list(after_ready)  # derived state built once commands flow
        self._background: list[asyncio.Task] = []
        self.batch_max = batch_max
        self.replayed_s = 0.0
        self._io = ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-journal")
        self._queue: asyncio.Queue[tuple[Command, asyncio.Future[Answer]]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = False
        self._stop = asyncio.Event()
        self._exit = 0

    # -- commands -------------------------------------------------------------------------

    async def submit(self, command: Command) -> Answer:
        """Decide and write ``command``; its answer, or :class:`Rejected`."""
        if not self._ready or self._queue is None:
            raise Rejected(503, "starting: the history is being replayed")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        await self._queue.put((command, future))
        return await future

    def submit_threadsafe(self, command: Command, timeout_s: float = 60.0) -> Answer:
        """:meth:`submit` from a feed's thread."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(self.submit(command), self._loop).result(timeout_s)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the service's loop (state is only touched there)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(callback)

    async def _writer(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            overlay = self.store.overlay()
            outcomes: list[tuple[asyncio.Future[Answer], Answer | BaseException]] = []
            for command, future in batch:
                try:
                    outcomes.append((future, overlay.submit(command)))
                except Rejected as exc:
                    outcomes.append((future, exc))
                except Exception as exc:  # a bug in a decision: that command fails, not all
                    log.exception("deciding a command failed", extra={"command": command.name})
                    outcomes.append((future, Rejected(500, f"internal error (logged): {exc}")))
            if overlay.folded:
                outgoing = (
                    [r for e in overlay.events for r in self.outbox(e)] if self.outbox else []
                )
                try:
                    await loop.run_in_executor(
                        self._io, self.journal.append, overlay.folded, outgoing
                    )
                except Unavailable as exc:
                    why = Rejected(503, f"{exc}; retry with the same Idempotency-Key")
                    outcomes = [(f, why if isinstance(o, Answer) else o) for f, o in outcomes]
                    overlay = None
                except Exception as exc:
                    log.critical("the journal failed; exiting", extra={"error": str(exc)})
                    self.health.failed(f"journal: {exc}")
                    why = Rejected(503, "the service is restarting; retry with the same key")
                    for future, _ in outcomes:
                        future.set_exception(why)
                    self._exit = 1
                    self._stop.set()
                    return
                if overlay is not None:
                    self.store.merge(overlay)
                    BATCH.labels(self.name).observe(len(batch))
                    EVENTS.labels(self.name).set(self.store.events)
            for (command, _), (future, outcome) in zip(batch, outcomes, strict=True):
                COMMANDS.labels(self.name, command.name, _outcome(outcome)).inc()
                if future.done():
                    continue
                if isinstance(outcome, Answer):
                    future.set_result(outcome)
                else:
                    future.set_exception(outcome)

    # -- running --------------------------------------------------------------------------

    def run(self) -> int:
        return asyncio.run(self._main())

    async def _main(self) -> int:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, self._stop.set)
        self.watchdog.start(exit_for_restart(self.health, self.name))
        runner = web.AppRunner(self.api.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        log.info("listening", extra={"port": self.settings.http_port})
        writer: asyncio.Task | None = None
        try:
            # As every service does: the declared topics, waiting for the cluster to come up.
            await self._loop.run_in_executor(
                self._io, apply_topics_with_retry, self.settings, self._stop.is_set
            )
            # Fence any earlier writer first, then replay: what it committed before being
            # fenced is all in the history read after.
            await self._loop.run_in_executor(self._io, self.journal.open)
            started = time.monotonic()
            replayed = await self._loop.run_in_executor(self._io, self._replay)
            self.replayed_s = time.monotonic() - started
            writer = asyncio.create_task(self._writer())
            self._ready = True
            self.health.ready()
            log.info(
                "ready",
                extra={"events": replayed, "replay_s": round(self.replayed_s, 3)},
            )
            for work in self.after_ready:
                self._background.append(asyncio.create_task(self._run_background(work)))
            for feed in self.feeds:
                feed.start(self.submit_threadsafe, self._stop.is_set)
                self.health.add_check(feed.problem, status="failed")
            await self._stop.wait()
        finally:
            self.health.stopping()
            self._ready = False
            self._stop.set()
            for feed in self.feeds:
                await self._loop.run_in_executor(None, feed.join, 10.0)
            for task in self._background:
                task.cancel()
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            await runner.cleanup()
            await self._loop.run_in_executor(self._io, self.journal.close)
            self.watchdog.stop()
            self._io.shutdown(wait=False)
        log.info("stopped", extra={"events": self.store.events})
        return self._exit

    async def _run_background(self, work: Callable[[], Awaitable[Any]]) -> None:
        started = time.monotonic()
        try:
            result = await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # derived state is gone: say so where it is asked for
            log.exception("building derived state failed")
            self.health.failed(f"{getattr(work, '__qualname__', work)}: {exc}")
            return
        log.info(
            "built",
            extra={
                "what": getattr(work, "__qualname__", str(work)),
                "result": result,
                "took_s": round(time.monotonic() - started, 3),
            },
        )

    def _replay(self) -> int:
        # A replay allocates millions of objects that all live on: the cyclic collector,
        # run every few hundred allocations, would scan that growing heap again and again
        # (it took two thirds of a replay's time). Off while replaying; then what was built
        # is frozen, so that later collections never scan it.
        gc.disable()
        count = 0
        try:
            for event in self.journal.replay():
                self.store.replay(event)
                count += 1
        finally:
            gc.freeze()
            gc.enable()
        EVENTS.labels(self.name).set(self.store.events)
        return count


def _outcome(outcome: Any) -> str:
    return "accepted" if isinstance(outcome, Answer) else f"rejected_{outcome.status}"
