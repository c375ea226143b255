"""Bounds on every call a service's loop blocks in, and whether the loop still gets work done.

librdkafka's blocking calls take a timeout, but not all of them keep it:
``rd_kafka_send_offsets_to_transaction()`` never checks its own (librdkafka #5456, fix in PR
#5457) and waits forever when the group coordinator's broker was decommissioned (#5511, PR
#5512). A process stuck in such a call looks alive — its HTTP thread still answers
``/healthz`` — while it processes nothing. So the engines wrap each blocking call in
:meth:`Watchdog.call` with a bound of their own, and a thread beside the loop checks the
bounds. A call that overruns its bound ends the process (:func:`exit_for_restart`): a
supervisor (Kubernetes, compose, the devstack) restarts it, and the restart resumes exactly
from the last commit.

A bound is on the time a call goes **without progress**: since it began, or since the last
call nested inside it returned (a rebalance callback that restores state runs inside
``consume()``; each read it makes is a call of its own).

>>> now = [100.0]
>>> dog = Watchdog(clock=lambda: now[0])
>>> with dog.call("consume", bound_s=30):
...     now[0] += 20
...     with dog.call("restore", bound_s=60):
...         now[0] += 50              # a long restore, within its own bound
...     now[0] += 20              # 20 s since the restore returned: fine
...     print(dog.overrun())
None
>>> with dog.call("send_offsets_to_transaction", bound_s=15):
...     now[0] += 16
...     print(dog.overrun())
send_offsets_to_transaction: 16 s without returning (bound 15 s)

:class:`Progress` says when a loop that has work waiting gets none of it done:

>>> progress = Progress(stall_after_s=60, clock=lambda: now[0])
>>> progress.waiting(lag=500)
>>> now[0] += 61
>>> progress.stalled()
'no event processed for 61 s while 500 wait'
>>> progress.advanced(200)
>>> progress.stalled() is None
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

# The exit code of a process that ended itself because a call overran its bound: a
# temporary failure (EX_TEMPFAIL), to be restarted.
EXIT_STUCK = 75


@dataclass(frozen=True)
class Overrun:
    call: str
    elapsed_s: float
    bound_s: float
    thread_id: int = 0

    def __str__(self) -> str:
        return f"{self.call}: {self.elapsed_s:.0f} s without returning (bound {self.bound_s:.0f} s)"


@dataclass
class _Frame:
    name: str
    bound_s: float
    since: float


class Watchdog:
    """Bounded calls, on any number of threads (each has its own stack of calls), checked
    by a thread of the watchdog's own."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, interval_s: float = 0.5
    ) -> None:
        self._on_overrun: Callable[[Overrun], None] | None = None
        self._clock = clock
        self._interval_s = interval_s
        self._stacks: dict[int, list[_Frame]] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def call(self, name: str, bound_s: float) -> Iterator[None]:
        frame = _Frame(name, bound_s, self._clock())
        thread = threading.get_ident()
        with self._lock:
            stack = self._stacks.setdefault(thread, [])
            stack.append(frame)
        try:
            yield
        finally:
            with self._lock:
                stack.remove(frame)
                if stack:
                    stack[-1].since = self._clock()

    def current(self) -> str | None:
        """The innermost call in progress on this thread, if any."""
        with self._lock:
            stack = self._stacks.get(threading.get_ident())
            return stack[-1].name if stack else None

    def overrun(self) -> Overrun | None:
        """The first thread whose innermost call went past its bound."""
        now = self._clock()
        with self._lock:
            for thread, stack in self._stacks.items():
                if stack and now - stack[-1].since > stack[-1].bound_s:
                    frame = stack[-1]
                    return Overrun(frame.name, now - frame.since, frame.bound_s, thread)
        return None

    def start(self, on_overrun: Callable[[Overrun], None]) -> Watchdog:
        """Check the bounds every ``interval_s`` on a thread; call ``on_overrun`` once."""
        self._on_overrun = on_overrun
        self._halt.clear()
        self._thread = threading.Thread(target=self._watch, name="wk-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()

    def _watch(self) -> None:
        while not self._halt.wait(self._interval_s):
            found = self.overrun()
            if found is not None and self._on_overrun is not None:
                self._on_overrun(found)
                return


def exit_for_restart(health, service: str) -> Callable[[Overrun], None]:
    """What an overrun does in a service process: ``/healthz`` says failed with the call's
    name, one log line names the call and where the loop is stuck, and the process ends
    with :data:`EXIT_STUCK` at once (the stuck call cannot be interrupted from Python)."""

    def act(overrun: Overrun) -> None:
        health.failed(f"stuck in {overrun}")
        frame = sys._current_frames().get(overrun.thread_id)
        where = "".join(traceback.format_stack(frame, limit=6)) if frame is not None else ""
        log.critical(
            "a Kafka call overran its bound; exiting so that the supervisor restarts us",
            extra={
                "service": service,
                "call": overrun.call,
                "elapsed_s": round(overrun.elapsed_s, 1),
                "bound_s": overrun.bound_s,
                "exit_code": EXIT_STUCK,
                "stack": where,
            },
        )
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(EXIT_STUCK)

    return act


class Progress:
    """Whether a loop with work waiting (consumer lag) still gets through it."""

    def __init__(self, stall_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after_s = stall_after_s
        self._clock = clock
        self._last = clock()
        self._lag = 0

    def advanced(self, events: int) -> None:
        if events:
            self._last = self._clock()

    def waiting(self, lag: int) -> None:
        """The latest lag; none waiting counts as progress (idle is not stalled)."""
        self._lag = lag
        if lag <= 0:
            self._last = self._clock()

    def stalled(self) -> str | None:
        """For ``/healthz``: a sentence when stalled, else None."""
        idle = self._clock() - self._last
        if self._lag > 0 and idle > self.stall_after_s:
            return f"no event processed for {idle:.0f} s while {self._lag} wait"
        return None
