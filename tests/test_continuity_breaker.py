"""The circuit breaker's state machine, driven by a fake clock."""

from __future__ import annotations

import pytest

from watchkeeper.continuity import Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_stays_closed_below_min_calls_then_opens_on_error_rate():
    clock = Clock()
    breaker = Breaker(window=10, min_calls=5, failure_rate=0.5, clock=clock)
    for _ in range(4):
        breaker.record(False, 0.001)
    assert breaker.state == "closed"  # 4 failures, but fewer than min_calls
    breaker.record(True, 0.001)  # the fifth call, a success, makes the verdict: 4/5
    assert breaker.state == "open"
    assert breaker.allow() is False
    assert breaker.opened == 1


def test_count_window_forgets_old_failures():
    breaker = Breaker(window=4, min_calls=4, failure_rate=0.5, clock=Clock())
    for ok in (False, True, True, True, True, True):
        breaker.record(ok, 0.001)
    assert breaker.state == "closed"
    assert breaker.failure_rate_now == 0.0  # the failure fell out of the last four


def test_opens_on_slow_call_rate_without_errors():
    breaker = Breaker(window=10, min_calls=4, slow_call_s=0.1, slow_call_rate=0.5, clock=Clock())
    for elapsed in (0.2, 0.01, 0.3, 0.01):
        breaker.record(True, elapsed)
    assert breaker.state == "open"
    assert breaker.slow_rate_now == 0.5


def test_cooldown_half_open_probes_then_closed():
    clock = Clock()
    changes = []
    breaker = Breaker(
        window=4,
        min_calls=2,
        cooldown_s=10,
        half_open_calls=2,
        clock=clock,
        on_change=changes.append,
    )
    breaker.record(False, 0.0)
    breaker.record(False, 0.0)
    assert breaker.state == "open"
    clock.now = 9.999
    assert breaker.allow() is False  # still cooling down
    clock.now = 10.0
    assert [breaker.allow() for _ in range(3)] == [True, True, False]
    assert breaker.state == "half_open"
    breaker.record(True, 0.0)
    assert breaker.state == "half_open"  # one probe of two
    breaker.record(True, 0.0)
    assert breaker.state == "closed"
    assert breaker.failure_rate_now == 0.0  # closed with a fresh window
    assert changes == ["open", "half_open", "closed"]


def test_failed_probe_reopens_for_another_cooldown():
    clock = Clock()
    breaker = Breaker(window=4, min_calls=2, cooldown_s=10, half_open_calls=3, clock=clock)
    breaker.record(False, 0.0)
    breaker.record(False, 0.0)
    clock.now = 10.0
    assert breaker.allow()
    breaker.record(False, 0.0)
    assert breaker.state == "open"
    assert breaker.opened_at == 10.0
    clock.now = 19.0
    assert not breaker.allow()
    clock.now = 20.0
    assert breaker.allow() and breaker.state == "half_open"


def test_slow_probe_reopens():
    clock = Clock()
    breaker = Breaker(window=4, min_calls=2, cooldown_s=1, slow_call_s=0.5, clock=clock)
    breaker.record(False, 0.0)
    breaker.record(False, 0.0)
    clock.now = 1.0
    assert breaker.allow()
    breaker.record(True, 0.6)  # fine, but slow
    assert breaker.state == "open"


def test_time_window_evicts_by_age():
    clock = Clock()
    breaker = Breaker(window_s=10, bucket_s=1, min_calls=3, failure_rate=0.5, clock=clock)
    breaker.record(False, 0.0)
    breaker.record(False, 0.0)
    clock.now = 11.5  # both failures are older than the window now
    breaker.record(True, 0.0)
    breaker.record(True, 0.0)
    breaker.record(False, 0.0)
    assert breaker.state == "closed"  # 1 failure in 3 calls, not 3 in 5
    assert breaker.failure_rate_now == pytest.approx(1 / 3)
    breaker.record(False, 0.0)
    assert breaker.state == "open"  # 2 of 4


def test_record_while_open_changes_nothing():
    clock = Clock()
    breaker = Breaker(window=2, min_calls=2, cooldown_s=5, clock=clock)
    breaker.record(False, 0.0)
    breaker.record(False, 0.0)
    breaker.record(True, 0.0)  # a call let through before it opened, returning late
    assert breaker.state == "open" and breaker.opened == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 0},
        {"min_calls": 0},
        {"failure_rate": 0},
        {"failure_rate": 1.5},
        {"half_open_calls": 0},
        {"cooldown_s": -1},
        {"window_s": 0},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        Breaker(**kwargs)


def test_probes_that_never_report_are_replaced_after_a_cooldown():
    clock = Clock()
    breaker = Breaker(window=2, min_calls=2, cooldown_s=10, half_open_calls=1, clock=clock)
    breaker.record(False, 0.0)
    breaker.record(False, 0.0)
    clock.now = 10.0
    assert breaker.allow()  # the probe hangs, never recorded
    clock.now = 19.0
    assert not breaker.allow()
    clock.now = 20.0
    assert breaker.allow()  # a fresh probe
    breaker.record(True, 0.0)
    assert breaker.state == "closed"
