"""Shadow models: a candidate version answers the same requests as the primary, off the
caller's path, and only its monitoring sees the answers.

``Shadow.submit`` copies the request (and the primary's answer) onto a bounded queue and
returns at once; a full queue drops the request and counts it. Worker threads run the
candidate, time it, emit a prediction event for it (variant ``"shadow"``, the candidate's
version, fields from ``describe(result)``) and compare its answer with the primary's
(``compare(primary, candidate)``, equality by default). ``Shadow.wrap(primary)`` does all
of that around a primary function and returns only the primary's answer: a candidate that
raises, hangs or disagrees never reaches the caller.

>>> from watchkeeper.settings import KafkaSettings
>>> from watchkeeper.sdk import Emitter
>>> emitter = Emitter(KafkaSettings("127.0.0.1:1"), buffer_size=100)
>>> shadow = emitter.shadow("fraud", "3.2.0", lambda amount: "fraud" if amount > 50 else "legit")
>>> score = shadow.wrap(lambda amount: "fraud" if amount > 100 else "legit")
>>> [score(a) for a in (10, 20, 80, 200)]   # the primary's answers, whatever the candidate says
['legit', 'legit', 'legit', 'fraud']
>>> shadow.close(timeout=5)
0
>>> r = shadow.report()
>>> r.submitted, r.ran, r.agreed, r.agreement_rate
(4, 4, 3, 0.75)
>>> emitter.close(timeout=0)
4
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _metrics
from ._shared import Quiet

if TYPE_CHECKING:
    from ._emitter import Emitter

log = logging.getLogger("watchkeeper.sdk.shadow")

SHADOW_VARIANT = "shadow"
_SAMPLES = 10_000  # latency samples kept per side for the report's quantiles


def quantile(samples: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of ``samples`` (None when there are none).

    >>> quantile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5), quantile(list(range(1, 101)), 0.99)
    (3.0, 99)
    >>> quantile([], 0.5) is None
    True
    """
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))  # ceil(q * n), in integers
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class ShadowReport:
    model: str
    version: str
    submitted: int  # offered to the shadow
    ran: int  # the candidate was called (and returned or raised)
    dropped: int  # never run: queue full, not copyable, closed
    errors: int  # the candidate, describe or compare raised
    compared: int  # runs whose answer was compared with the primary's
    agreed: int
    agreement_rate: float | None  # agreed / compared
    candidate_p50_ms: float | None
    candidate_p99_ms: float | None
    primary_p50_ms: float | None
    primary_p99_ms: float | None


class Shadow:
    def __init__(
        self,
        emitter: Emitter,
        model: str,
        version: str,
        predict: Callable[..., Any],
        *,
        compare: Callable[[Any, Any], bool] | None = None,
        describe: Callable[[Any], Mapping[str, Any]] | None = None,
        queue_size: int = 1000,
        workers: int = 1,
        copy_request: Callable[[Any], Any] | None = copy.deepcopy,
    ) -> None:
        for name, value in (("model", model), ("version", version)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"shadow: {name} must be a non-empty string, got {value!r}")
        if not callable(predict):
            raise ValueError(f"shadow: predict must be callable, got {predict!r}")
        if not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"shadow: queue_size must be at least 1, got {queue_size!r}")
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"shadow: workers must be at least 1, got {workers!r}")
        self.model = model
        self.version = version
        self._emitter = emitter
        self._predict = predict
        self._compare = compare or (lambda primary, candidate: primary == candidate)
        self._describe = describe
        # Caller's objects are copied because the caller may reuse or mutate them once
        # submit returns; None hands them over as they are (for requests that cannot copy).
        self._copy = copy_request or (lambda item: item)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._counts = dict.fromkeys(("submitted", "ran", "errors", "compared", "agreed"), 0)
        self._drops: dict[str, int] = {}
        self._latency = {"candidate": deque(maxlen=_SAMPLES), "primary": deque(maxlen=_SAMPLES)}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._unfinished = 0  # queued or running
        self._closed = False
        self._stop = threading.Event()
        self._quiet = Quiet()
        labels = (emitter.client_id, model, version)
        self._labels = labels
        self._metric = {
            "submitted": _metrics.SHADOW_SUBMITTED.labels(*labels),
            "ran": _metrics.SHADOW_RAN.labels(*labels),
            "errors": _metrics.SHADOW_ERRORS.labels(*labels),
            "agreed": _metrics.SHADOW_AGREED.labels(*labels),
        }
        self._latency_metric = {
            side: _metrics.SHADOW_LATENCY.labels(*labels, side) for side in self._latency
        }
        self._threads = [
            threading.Thread(target=self._work, name=f"wk-shadow-{model}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # -- the caller's side ----------------------------------------------------------------

    def submit(self, request: Any, primary_result: Any, primary_latency_ms: float | None = None):
        """Queue ``predict(request)`` for the candidate; True if queued, False if dropped.
        Never blocks and never raises."""
        return self._offer((request,), {}, primary_result, primary_latency_ms)

    def wrap(self, primary: Callable[..., Any]) -> Callable[..., Any]:
        """``primary`` with the candidate shadowing each call (same arguments); returns
        only the primary's answer, and raises only what the primary raises."""
        if inspect.iscoroutinefunction(primary):

            @functools.wraps(primary)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                result = await primary(*args, **kwargs)
                self._offer(args, kwargs, result, (time.perf_counter() - start) * 1000.0)
                return result

            return async_wrapper

        @functools.wraps(primary)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = primary(*args, **kwargs)
            self._offer(args, kwargs, result, (time.perf_counter() - start) * 1000.0)
            return result

        return wrapper

    def report(self) -> ShadowReport:
        with self._lock:
            counts = dict(self._counts)
            dropped = sum(self._drops.values())
            candidate = list(self._latency["candidate"])
            primary = list(self._latency["primary"])
        compared = counts["compared"]
        return ShadowReport(
            self.model,
            self.version,
            counts["submitted"],
            counts["ran"],
            dropped,
            counts["errors"],
            compared,
            counts["agreed"],
            counts["agreed"] / compared if compared else None,
            quantile(candidate, 0.5),
            quantile(candidate, 0.99),
            quantile(primary, 0.5),
            quantile(primary, 0.99),
        )

    def drops(self) -> dict[str, int]:
        """Requests never run, by reason: ``queue_full``, ``uncopyable``, ``closed``."""
        with self._lock:
            return dict(self._drops)

    def close(self, timeout: float = 5.0) -> int:
        """Stop taking requests, let the queued ones run for up to ``timeout`` s, drop (and
        count) the rest; return how many were dropped here. Safe to call twice."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closed = True
            while self._unfinished and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        left = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            left += 1
        with self._lock:
            self._unfinished -= left
        self._drop("closed", left)
        for thread in self._threads:
            # A candidate stuck in predict keeps its (daemon) thread; nobody waits on it.
            thread.join(max(0.0, deadline - time.monotonic()))
        return left

    # -- internals --------------------------------------------------------------------

    def _offer(self, args: tuple, kwargs: dict, primary_result: Any, primary_ms: float | None):
        try:
            self._count("submitted")
            if self._closed:
                self._drop("closed", 1)
                return False
            try:
                item = self._copy((args, kwargs, primary_result))
            except Exception as exc:
                self._quiet.warn(
                    log, "uncopyable", "shadow %s: request not copyable: %r", self, exc
                )
                self._drop("uncopyable", 1)
                return False
            with self._lock:
                self._unfinished += 1
            try:
                self._queue.put_nowait((*item, primary_ms))
            except queue.Full:
                with self._lock:
                    self._unfinished -= 1
                self._drop("queue_full", 1)
                return False
            return True
        except Exception:  # never the caller's problem
            log.exception("shadow submit failed")
            return False

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                self._run_one(*item)
            except Exception:
                log.exception("shadow worker error")
            finally:
                with self._lock:
                    self._unfinished -= 1
                    self._idle.notify_all()

    def _run_one(self, args: tuple, kwargs: dict, primary: Any, primary_ms: float | None) -> None:
        start = time.perf_counter()
        failure: BaseException | None = None
        try:
            result = self._predict(*args, **kwargs)
        except Exception as exc:
            failure, result = exc, None
        latency_ms = (time.perf_counter() - start) * 1000.0
        self._count("ran")
        # Both sides are timed on the same requests, so their quantiles compare.
        self._observe("candidate", latency_ms)
        if primary_ms is not None:
            self._observe("primary", primary_ms)
        fields: dict[str, Any] = {}
        if failure is not None:
            self._error("predict", failure)
            fields = {"status": "ERROR", "error_type": type(failure).__name__}
        else:
            self._agree(primary, result)
            if self._describe is not None:
                try:
                    fields = dict(self._describe(result))
                except Exception as exc:
                    self._error("describe", exc)
        self._emit(latency_ms, fields)

    def _emit(self, latency_ms: float, fields: dict[str, Any]) -> None:
        try:
            self._emitter.prediction(
                model=self.model,
                version=self.version,
                variant=SHADOW_VARIANT,
                latency_ms=latency_ms,
                **fields,
            )
        except (ValueError, TypeError) as exc:  # describe gave fields the event refuses
            self._error("describe", exc)
            self._emitter.prediction(
                model=self.model,
                version=self.version,
                variant=SHADOW_VARIANT,
                latency_ms=latency_ms,
                status=fields.get("status", "OK"),
            )

    def _agree(self, primary: Any, candidate: Any) -> None:
        try:
            agreed = bool(self._compare(primary, candidate))
        except Exception as exc:
            self._error("compare", exc)
            return
        self._count("compared")
        if agreed:
            self._count("agreed")

    def _error(self, where: str, exc: BaseException) -> None:
        self._count("errors")
        self._quiet.warn(log, where, "shadow %s: %s raised %r", self, where, exc)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1
        if name in self._metric:
            self._metric[name].inc()

    def _drop(self, reason: str, n: int) -> None:
        if n <= 0:
            return
        with self._lock:
            self._drops[reason] = self._drops.get(reason, 0) + n
        _metrics.SHADOW_DROPPED.labels(*self._labels, reason).inc(n)

    def _observe(self, side: str, ms: float) -> None:
        with self._lock:
            self._latency[side].append(ms)
        self._latency_metric[side].observe(ms / 1000.0)

    def __repr__(self) -> str:
        return f"Shadow({self.model!r}, {self.version!r})"
