"""A hard deadline for a synchronous call: it runs on a worker thread, the caller waits on
a lock with a timeout.

Python cannot interrupt a thread, so a call that outlives its deadline keeps its worker
until it returns; the caller is not kept waiting. With every worker held by hung calls,
new calls queue and time out in turn (the fallback answers them), so ``workers`` bounds
the threads a hung model can hold. The hand-off costs a few microseconds per call (see
docs/continuity.md): a guard without a deadline never pays it.

>>> pool = DeadlinePool(workers=1)
>>> pool.run(sum, ([1, 2, 3],), {}, timeout_s=1.0)
6
>>> import threading
>>> hold = threading.Event()
>>> pool.run(hold.wait, (), {}, timeout_s=0.01)
Traceback (most recent call last):
...
watchkeeper.continuity._deadline.DeadlineExceeded: no answer within 0.01 s
>>> hold.set(); pool.close()
"""

from __future__ import annotations

import _thread
import threading
from queue import SimpleQueue
from typing import Any


class DeadlineExceeded(TimeoutError):
    """The call did not return within its deadline (it may still be running)."""


class _Job:
    __slots__ = ("abandoned", "args", "done", "error", "fn", "kwargs", "value")

    def __init__(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.value: Any = None
        self.abandoned = False  # its caller gave up before a worker took it: skip it
        self.error: BaseException | None = None
        # A bare lock is the cheapest one-shot signal between threads (an Event is a
        # Condition and a lock around it).
        self.done = _thread.allocate_lock()
        self.done.acquire()


_STOP = None


class DeadlinePool:
    """``workers`` persistent daemon threads (started on first use)."""

    def __init__(self, workers: int = 8, name: str = "wk-guard") -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.name = name
        self._queue: SimpleQueue[_Job | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()

    def run(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float) -> Any:
        if not self._threads:
            self._start()
        job = _Job(fn, args, kwargs)
        self._queue.put(job)
        if not job.done.acquire(timeout=timeout_s):
            job.abandoned = True
            raise DeadlineExceeded(f"no answer within {timeout_s:g} s")
        if job.error is not None:
            raise job.error
        return job.value

    def _start(self) -> None:
        with self._start_lock:
            while len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        queue = self._queue
        while True:
            job = queue.get()
            if job is _STOP:
                return
            if job.abandoned:
                continue
            try:
                job.value = job.fn(*job.args, **job.kwargs)
            except BaseException as exc:  # handed to the caller, who decides
                job.error = exc
            job.done.release()

    def close(self) -> None:
        """Stop the workers once they finish what they run (they are daemons: a hung one
        does not hold the interpreter at exit)."""
        for _ in self._threads:
            self._queue.put(_STOP)
        self._threads = []


_default: DeadlinePool | None = None
_default_lock = threading.Lock()


def default_pool() -> DeadlinePool:
    """The process's shared pool, for guards given no pool of their own."""
    global _default
    with _default_lock:
        if _default is None:
            _default = DeadlinePool()
        return _default
