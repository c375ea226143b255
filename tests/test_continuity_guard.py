"""Guard and AsyncGuard without Kafka: the chain's order, deadlines, the breaker in the
path, hostile input, and the error when everything fails."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from watchkeeper.continuity import (
    AllFallbacksFailed,
    AsyncGuard,
    Breaker,
    BreakerOpen,
    DeadlineExceeded,
    DeadlinePool,
    Guard,
    HumanReview,
    Pending,
    ResultCache,
)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """A primary that fails while ``down`` is set."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def __call__(self, features):
        self.calls += 1
        if self.down:
            raise ConnectionError("model server unreachable")
        return f"primary:{features['x']}"


def broken(features):
    raise ValueError("simple model has no rule for this")


def simple(features):
    return "simple"


def recorder():
    published: list[tuple[str, dict]] = []
    return published, HumanReview(lambda key, value: published.append((key, json.loads(value))))


def test_chain_order_primary_fallbacks_cache_human_then_error():
    primary = Flaky()
    published, human = recorder()
    cache = ResultCache(name="t-order")
    guard = Guard(
        primary,
        model="m-order",
        fallbacks=[broken],
        cache=cache,
        human=human,
        breaker=Breaker(min_calls=1000),
    )
    assert guard({"x": 1}) == "primary:1"  # healthy: the primary answers, the cache learns
    primary.down = True
    assert guard({"x": 1}) == "primary:1"  # the broken fallback fails, the cache answers
    pending = guard({"x": 2})  # nothing cached for x=2: a human is asked
    assert isinstance(pending, Pending) and not pending
    assert published[0][0] == pending.review_id
    request = published[0][1]
    assert request["event_id"] == pending.event_id and request["features"] == {"x": 2}
    assert "primary: ConnectionError" in request["reason"]
    assert "broken: ValueError" in request["reason"]
    assert guard.outcomes == {"primary": 1, "cache": 1, "human": 1}


def test_first_fallback_that_answers_wins():
    primary = Flaky()
    primary.down = True
    guard = Guard(primary, model="m-first", fallbacks=[broken, simple, broken])
    assert guard({"x": 1}) == "simple"
    assert guard.outcomes == {"fallback": 1}


def test_all_failed_names_every_step_and_is_counted():
    from prometheus_client import REGISTRY

    def human_down(key, value):
        raise BufferError("queue full")

    primary = Flaky()
    primary.down = True
    guard = Guard(
        primary,
        model="m-fail",
        fallbacks=[broken],
        cache=ResultCache(name="t-fail"),
        human=HumanReview(human_down),
    )
    with pytest.raises(AllFallbacksFailed) as caught:
        guard({"x": 1})
    steps = [(s.name, type(s.error).__name__) for s in caught.value.steps]
    assert steps == [
        ("primary", "ConnectionError"),
        ("broken", "ValueError"),
        ("human", "BufferError"),
    ]
    assert "primary: ConnectionError: model server unreachable" in str(caught.value)
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert REGISTRY.get_sample_value("wk_sdk_guard_failures_total", {"model": "m-fail"}) == 1
    assert (
        REGISTRY.get_sample_value(
            "wk_sdk_guard_calls_total", {"model": "m-fail", "outcome": "failed"}
        )
        == 1
    )


def test_breaker_opens_then_calls_skip_the_primary_until_probes_pass():
    from prometheus_client import REGISTRY

    clock = Clock()
    primary = Flaky()
    breaker = Breaker(
        window=10, min_calls=4, failure_rate=0.5, cooldown_s=30, half_open_calls=2, clock=clock
    )
    guard = Guard(primary, model="m-breaker", fallbacks=[simple], breaker=breaker, clock=clock)
    primary.down = True
    for _ in range(4):
        assert guard({"x": 1}) == "simple"
    assert breaker.state == "open"
    assert REGISTRY.get_sample_value("wk_sdk_breaker_state", {"model": "m-breaker"}) == 2
    calls = primary.calls
    assert guard({"x": 1}) == "simple"
    assert primary.calls == calls  # refused: the primary was not called
    assert guard.outcomes["rejected_open"] == 1
    primary.down = False
    clock.now = 30.0
    assert guard({"x": 1}) == "primary:1" and breaker.state == "half_open"
    assert guard({"x": 2}) == "primary:2" and breaker.state == "closed"
    assert REGISTRY.get_sample_value("wk_sdk_breaker_state", {"model": "m-breaker"}) == 0
    assert REGISTRY.get_sample_value("wk_sdk_breaker_opened_total", {"model": "m-breaker"}) == 1


def test_open_breaker_without_fallback_is_a_clear_error():
    breaker = Breaker(window=2, min_calls=1, clock=Clock())
    breaker.record(False, 0.0)
    guard = Guard(simple, model="m-open", breaker=breaker)
    with pytest.raises(AllFallbacksFailed) as caught:
        guard({"x": 1})
    assert isinstance(caught.value.steps[0].error, BreakerOpen)


def test_deadline_fallback_answers_while_the_primary_still_hangs():
    release = threading.Event()
    started = threading.Event()

    def hangs(features):
        started.set()
        release.wait(30)
        return "late"

    guard = Guard(
        hangs, model="m-deadline", deadline_s=0.05, fallbacks=[simple], pool=DeadlinePool(workers=2)
    )
    try:
        assert guard({"x": 1}) == "simple"
        assert started.is_set() and not release.is_set()  # it answered without waiting
        assert guard.outcomes == {"fallback": 1}
    finally:
        release.set()


def test_deadline_when_all_workers_hang_still_answers():
    release = threading.Event()
    guard = Guard(
        lambda f: release.wait(30),
        model="m-busy",
        deadline_s=0.02,
        fallbacks=[simple],
        pool=DeadlinePool(workers=1),
    )
    try:
        assert [guard({"x": i}) for i in range(3)] == ["simple"] * 3  # queued behind the hung one
    finally:
        release.set()


def test_deadline_path_passes_values_and_errors_through():
    guard = Guard(Flaky(), model="m-dl-ok", deadline_s=5.0, pool=DeadlinePool(workers=1))
    assert guard({"x": 7}) == "primary:7"
    failing = Guard(broken, model="m-dl-err", deadline_s=5.0, fallbacks=[simple])
    assert failing({"x": 1}) == "simple"


def test_cache_first_answers_before_the_primary():
    primary = Flaky()
    guard = Guard(primary, model="m-cfirst", cache=ResultCache(name="t-cfirst"), cache_first=True)
    assert guard({"x": 1}) == "primary:1"
    assert guard({"x": 1}) == "primary:1"
    assert primary.calls == 1 and guard.outcomes == {"primary": 1, "cache": 1}


def test_callers_key_overrides_the_features():
    primary = Flaky()
    guard = Guard(primary, model="m-key", cache=ResultCache(name="t-key"), cache_first=True)
    guard({"x": 1}, key="user-9")
    assert guard({"x": 2}, key="user-9") == "primary:1"  # same key, so the cached answer


def test_unhashable_features_skip_the_cache_never_the_call():
    primary = Flaky()
    cache = ResultCache(name="t-unkeyable")
    guard = Guard(lambda f: "ok", model="m-unkeyable", cache=cache, cache_first=True)
    assert guard({"x": object()}) == "ok"
    assert cache.unkeyable == 1 and len(cache) == 0
    primary.down = True
    published, human = recorder()
    failing = Guard(primary, model="m-unkeyable-2", cache=cache, human=human)
    assert isinstance(failing({"x": object(), "y": float("nan")}), Pending)
    assert "object" in json.dumps(published[0][1]["features"])  # sent as its repr


def test_call_form_passes_arguments_to_fallbacks():
    def primary(a, b, *, scale):
        raise RuntimeError("down")

    def fallback(a, b, *, scale):
        return (a + b) * scale

    guard = Guard(primary, model="m-call", fallbacks=[fallback])
    assert guard.call(primary, 1, 2, scale=10) == 30


def test_a_fallback_that_is_async_in_a_sync_guard_is_an_error_step():
    async def afallback(features):
        return "never"

    guard = Guard(broken, model="m-async-in-sync", fallbacks=[afallback, simple])
    assert guard({"x": 1}) == "simple"


def test_keyboard_interrupt_is_not_swallowed():
    def interrupted(features):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Guard(interrupted, model="m-kbi", fallbacks=[simple])({"x": 1})


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"model": ""}, ValueError),
        ({"model": "m", "deadline_s": 0}, ValueError),
        ({"model": "m", "fallbacks": ["not callable"]}, TypeError),
    ],
)
def test_bad_configuration_is_refused(kwargs, error):
    with pytest.raises(error):
        Guard(simple, **kwargs)


# -- async --------------------------------------------------------------------------------


def test_async_deadline_fallback_answers():
    async def hangs(features):
        await asyncio.sleep(30)

    async def afallback(features):
        return "async-simple"

    async def main():
        guard = AsyncGuard(hangs, model="m-async-dl", deadline_s=0.02, fallbacks=[afallback])
        value = await guard({"x": 1})
        return value, guard.outcomes

    assert asyncio.run(main()) == ("async-simple", {"fallback": 1})


def test_async_chain_and_all_failed():
    async def primary(features):
        raise ConnectionError("down")

    async def afailing(features):
        raise ValueError("also down")

    async def main():
        cache = ResultCache(name="t-async")
        guard = AsyncGuard(primary, model="m-async", fallbacks=[afailing, broken], cache=cache)
        with pytest.raises(AllFallbacksFailed) as caught:
            await guard({"x": 1})
        return [s.name for s in caught.value.steps]

    assert asyncio.run(main()) == ["primary", "afailing", "broken"]


def test_async_healthy_and_sync_primary_allowed():
    async def main():
        guard = AsyncGuard(lambda f: "sync-inside-async", model="m-async-sync", deadline_s=1.0)
        return await guard({"x": 1}), await guard.call(lambda a: a * 2, 21)

    assert asyncio.run(main()) == ("sync-inside-async", 42)


def test_async_deadline_error_type():
    async def hangs(features):
        await asyncio.sleep(30)

    async def main():
        guard = AsyncGuard(hangs, model="m-async-dl-err", deadline_s=0.01)
        with pytest.raises(AllFallbacksFailed) as caught:
            await guard({"x": 1})
        return caught.value.steps[0].error

    assert isinstance(asyncio.run(main()), DeadlineExceeded)


def test_a_cancelled_probe_still_reports_to_the_breaker():
    clock = Clock()
    breaker = Breaker(window=2, min_calls=2, cooldown_s=10, half_open_calls=1, clock=clock)
    breaker.record(False, 0.0)
    breaker.record(False, 0.0)
    clock.now = 10.0

    async def hangs(features):
        await asyncio.sleep(30)

    async def main():
        guard = AsyncGuard(hangs, model="m-cancel", breaker=breaker, clock=clock)
        task = asyncio.ensure_future(guard({"x": 1}))
        await asyncio.sleep(0)  # the probe starts
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert breaker.state == "open" and breaker.opened == 2  # the probe counted as failed


def test_self_referential_features_still_get_an_answer():
    looped: list = []
    looped.append(looped)
    published, human = recorder()
    cache = ResultCache(name="t-loop")
    assert Guard(lambda f: "ok", model="m-loop", cache=cache)({"x": looped}) == "ok"
    assert cache.unkeyable == 1
    pending = Guard(broken, model="m-loop-2", cache=cache, human=human)({"x": looped})
    assert isinstance(pending, Pending) and "[...]" in published[0][1]["features"]


def test_an_emitting_guard_without_a_version_is_refused_at_construction():
    # Every event names its version: a guard that could never emit one says so at once.
    with pytest.raises(ValueError, match="version is required"):
        Guard(lambda f: f, model="fraud", emitter=object())
