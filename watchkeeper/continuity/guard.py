"""Guards around a model call: deadline, circuit breaker, fallback chain, result cache,
human review, and one prediction event per call saying which path answered.

The order of a guarded call:

1. ``cache_first=True`` only: a fresh cached result answers (``cache_hit``);
2. the primary, if the breaker lets it through, within ``deadline_s`` if one is set;
3. on its failure (error, deadline, breaker open): each fallback model in order;
4. then the newest cached result of a primary success for the same key;
5. then a human: a review request is published and :class:`Pending` is returned;
6. and if all of that fails, :class:`AllFallbacksFailed`, naming each step's error.

>>> def primary(features):
...     if features["amount"] > 1000:
...         raise RuntimeError("model server down")
...     return "legit"
>>> guard = Guard(primary, model="fraud", fallbacks=[lambda f: "review"],
...               cache=ResultCache(name="doc-guard"))
>>> guard({"amount": 12.5}), guard({"amount": 5000})
('legit', 'review')
>>> guard.outcomes
{'primary': 1, 'fallback': 1}
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from itertools import count
from typing import Any

from ..sdk._shared import Quiet
from . import _metrics
from ._deadline import DeadlineExceeded, DeadlinePool, default_pool
from ._keys import Unkeyable, canonical, digest
from .breaker import CLOSED, OPEN, STATE_VALUE, Breaker, BreakerOpen
from .cache import ResultCache
from .fallback import AllFallbacksFailed, FallbackChain, Step
from .human import HumanReview, Pending

log = logging.getLogger("watchkeeper.continuity")
_quiet = Quiet()

PRIMARY, FALLBACK, CACHE, HUMAN, FAILED, REJECTED_OPEN = (
    "primary",
    "fallback",
    "cache",
    "human",
    "failed",
    "rejected_open",
)
OUTCOMES = (PRIMARY, FALLBACK, CACHE, HUMAN, FAILED, REJECTED_OPEN)
_INDEX = {name: i for i, name in enumerate(OUTCOMES)}
Describe = Callable[[Any], Mapping[str, Any]]


class _Core:
    """What the sync and async guards share: configuration, the degraded tail, events."""

    __slots__ = (
        "__weakref__",
        "_ids",
        "breaker",
        "cache",
        "cache_first",
        "chain",
        "clock",
        "counts",
        "deadline_s",
        "describe",
        "emitter",
        "human",
        "model",
        "primary",
        "version",
    )

    def __init__(
        self,
        primary: Callable[..., Any],
        *,
        model: str,
        version: str | None = None,
        fallbacks: Sequence[Callable[..., Any]] = (),
        cache: ResultCache | None = None,
        cache_first: bool = False,
        human: HumanReview | None = None,
        breaker: Breaker | None = None,
        deadline_s: float | None = None,
        emitter: Any = None,
        describe: Describe | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not callable(primary):
            raise TypeError(f"primary must be callable, got {primary!r}")
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a non-empty string")
        if emitter is not None and not (isinstance(version, str) and version):
            # Every prediction event names its version: without one each emit would fail.
            raise ValueError("version is required when an emitter is given")
        if deadline_s is not None and not deadline_s > 0:
            raise ValueError(f"deadline_s must be > 0 or None, got {deadline_s!r}")
        self.primary = primary
        self.model, self.version = model, version
        self.chain = FallbackChain(fallbacks)
        self.cache, self.cache_first, self.human = cache, cache_first, human
        self.deadline_s = deadline_s
        self.emitter, self.describe, self.clock = emitter, describe, clock
        self.breaker = breaker if breaker is not None else Breaker(clock=clock)
        previous = self.breaker.on_change
        gauge = _metrics.BREAKER_STATE.labels(model)
        opened = _metrics.BREAKER_OPENED.labels(model)

        def on_change(state: str) -> None:
            gauge.set(STATE_VALUE[state])
            if state is OPEN:
                opened.inc()
            if previous is not None:
                previous(state)

        self.breaker.on_change = on_change
        gauge.set(STATE_VALUE[self.breaker.state])
        # Read by the metrics collector at scrape time (wk_sdk_guard_calls_total).
        # One slot per outcome: `counts[i] += 1` is not split by a thread switch in CPython
        # 3.11 (no call inside it), so the counts stay exact without a lock.
        self.counts = [0] * len(OUTCOMES)
        _metrics.track_guard(self)
        self._ids = (os.urandom(6).hex() + "-g", count())

    # -- pieces of a call -------------------------------------------------------------

    def _cache_key(self, features: Any, key: Any) -> str | bytes | None:
        # The caller's key as text, or the features' canonical bytes: never equal.
        if key is not None:
            return str(key)
        try:
            return canonical(features)
        except (Unkeyable, RecursionError):  # RecursionError: features that contain themselves
            self.cache.unkeyable += 1  # type: ignore[union-attr]
            return None

    @property
    def outcomes(self) -> dict[str, int]:
        """Calls by outcome so far (only those that happened)."""
        return {name: n for name, n in zip(OUTCOMES, self.counts, strict=True) if n}

    def _won(self, outcome: str) -> None:
        self.counts[_INDEX[outcome]] += 1

    def _primary_ok(self, value: Any, ckey: str | bytes | None, t0: float) -> Any:
        if ckey is not None:
            self.cache.put(ckey, value)  # type: ignore[union-attr]
        self.counts[0] += 1  # PRIMARY
        if self.emitter is not None:
            self._emit(PRIMARY, value, t0, ckey, ())
        return value

    def _refused(self) -> list[Step]:
        self._won(REJECTED_OPEN)
        return [Step("primary", BreakerOpen(f"{self.model}: circuit breaker open"))]

    def _count_error(self, step: Step) -> None:
        _metrics.GUARD_STEP_ERRORS.labels(self.model, step.name, type(step.error).__name__).inc()

    def _answered(
        self, outcome: str, value: Any, t0: float, ckey: str | bytes | None, errors: list[Step]
    ) -> Any:
        for step in errors:
            self._count_error(step)
        self._won(outcome)
        if self.emitter is not None:
            self._emit(outcome, value, t0, ckey, errors)
        return value

    def _tail(self, features: Any, ckey: str | bytes | None, errors: list[Step], t0: float) -> Any:
        """After the fallback models: the cache, a human, or the error."""
        if ckey is not None:
            hit, value = self.cache.get(ckey)  # type: ignore[union-attr]
            if hit:
                return self._answered(CACHE, value, t0, ckey, errors)
        if self.human is not None:
            event_id = f"{self._ids[0]}{next(self._ids[1]):x}"
            try:
                pending = self.human.request(
                    self.model, self.version, event_id, features, "; ".join(map(str, errors))
                )
            except Exception as exc:
                errors.append(Step("human", exc))
            else:
                return self._answered(HUMAN, pending, t0, ckey, errors)
        for step in errors:
            self._count_error(step)
        _metrics.GUARD_FAILURES.labels(self.model).inc()
        self._won(FAILED)
        failure = AllFallbacksFailed(self.model, errors)
        if self.emitter is not None:
            self._emit(FAILED, None, t0, ckey, errors)
        raise failure from errors[0].error

    def _emit(
        self, outcome: str, value: Any, t0: float, ckey: str | bytes | None, errors: Sequence[Step]
    ) -> None:
        # Monitoring must not break the call: a bad describe() is logged and counted.
        try:
            fields: Mapping[str, Any] = {}
            if self.describe is not None and outcome not in (HUMAN, FAILED):
                fields = self.describe(value)
            first = type(errors[0].error).__name__ if errors else None
            status = "OK"
            error_type = None
            if outcome == FAILED:
                status, error_type = "ERROR", "AllFallbacksFailed"
            elif errors:  # degraded: which path answered, and why the primary did not
                error_type = f"{outcome}:{first}"
            self.emitter.prediction(
                model=self.model,
                version=self.version,
                latency_ms=(self.clock() - t0) * 1000.0,
                cache_hit=outcome == CACHE,
                fallback_used=outcome in (FALLBACK, CACHE, HUMAN) and bool(errors),
                status=status,
                error_type=error_type,
                event_id=value.event_id if isinstance(value, Pending) else None,
                input_hash=digest(ckey) if isinstance(ckey, bytes) else ckey,
                **fields,
            )
        except Exception as exc:
            _metrics.GUARD_EMIT_ERRORS.labels(self.model).inc()
            if _quiet.allow(f"emit:{self.model}"):
                log.warning("guard %s: prediction not emitted: %r", self.model, exc)


class Guard(_Core):
    """Synchronous guard. ``guard(features, key=None)`` calls ``primary(features)``;
    ``guard.call(fn, *args, **kwargs)`` guards any call (fallbacks get the same arguments).

    ``deadline_s`` runs the primary on a worker of ``pool`` (the process's shared pool of
    8 by default) and stops waiting for it after that many seconds; without a deadline
    the primary runs in the caller's thread, with no hand-off.
    """

    __slots__ = ("pool",)

    def __init__(
        self, primary: Callable[..., Any], *, pool: DeadlinePool | None = None, **options: Any
    ) -> None:
        super().__init__(primary, **options)
        self.pool = pool if pool is not None or self.deadline_s is None else default_pool()

    def __call__(self, features: Any, key: Any = None) -> Any:
        return self._run(self.primary, (features,), {}, features, key)

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        features = args[0] if len(args) == 1 and not kwargs else [list(args), kwargs]
        return self._run(fn, args, kwargs, features, None)

    def _run(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, features: Any, key: Any
    ) -> Any:
        clock = self.clock
        t0 = clock()
        cache = self.cache
        ckey = None
        if cache is not None:
            ckey = self._cache_key(features, key)
            if self.cache_first and ckey is not None:
                hit, value = cache.get(ckey)
                if hit:
                    return self._answered(CACHE, value, t0, ckey, [])
        breaker = self.breaker
        if breaker.state is CLOSED or breaker.allow():
            try:
                if self.deadline_s is None:
                    value = fn(*args, **kwargs)
                else:
                    value = self.pool.run(fn, args, kwargs, self.deadline_s)  # type: ignore[union-attr]
            except Exception as exc:
                t1 = clock()
                breaker.record(False, t1 - t0, t1)
                errors = [Step("primary", exc)]
            except BaseException:  # KeyboardInterrupt: not ours to answer, but a probe ended
                t1 = clock()
                breaker.record(False, t1 - t0, t1)
                raise
            else:
                t1 = clock()
                breaker.record(True, t1 - t0, t1)
                return self._primary_ok(value, ckey, t0)
        else:
            errors = self._refused()
        ok, value, _ = self.chain.run_models((args, kwargs), errors)
        if ok:
            return self._answered(FALLBACK, value, t0, ckey, errors)
        return self._tail(features, ckey, errors, t0)


class AsyncGuard(_Core):
    """Asynchronous guard: ``await guard(features, key=None)`` or
    ``await guard.call(fn, *args, **kwargs)``. The deadline is ``asyncio.timeout``; the
    primary and the fallbacks may be coroutine functions or plain ones."""

    __slots__ = ()

    async def __call__(self, features: Any, key: Any = None) -> Any:
        return await self._run(self.primary, (features,), {}, features, key)

    async def call(self, fn: Callable[..., Awaitable[Any] | Any], /, *args: Any, **kwargs: Any):
        features = args[0] if len(args) == 1 and not kwargs else [list(args), kwargs]
        return await self._run(fn, args, kwargs, features, None)

    async def _run(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, features: Any, key: Any
    ) -> Any:
        clock = self.clock
        t0 = clock()
        cache = self.cache
        ckey = None
        if cache is not None:
            ckey = self._cache_key(features, key)
            if self.cache_first and ckey is not None:
                hit, value = cache.get(ckey)
                if hit:
                    return self._answered(CACHE, value, t0, ckey, [])
        breaker = self.breaker
        if breaker.state is CLOSED or breaker.allow():
            try:
                if self.deadline_s is None:
                    value = fn(*args, **kwargs)
                    if inspect.isawaitable(value):
                        value = await value
                else:
                    try:
                        async with asyncio.timeout(self.deadline_s):
                            value = fn(*args, **kwargs)
                            if inspect.isawaitable(value):
                                value = await value
                    except TimeoutError as exc:
                        raise DeadlineExceeded(f"no answer within {self.deadline_s:g} s") from exc
            except Exception as exc:
                t1 = clock()
                breaker.record(False, t1 - t0, t1)
                errors = [Step("primary", exc)]
            except BaseException:  # cancelled: the caller's decision, but a probe ended
                t1 = clock()
                breaker.record(False, t1 - t0, t1)
                raise
            else:
                t1 = clock()
                breaker.record(True, t1 - t0, t1)
                return self._primary_ok(value, ckey, t0)
        else:
            errors = self._refused()
        ok, value, _ = await self.chain.arun_models((args, kwargs), errors)
        if ok:
            return self._answered(FALLBACK, value, t0, ckey, errors)
        return self._tail(features, ckey, errors, t0)
