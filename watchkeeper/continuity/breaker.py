"""A circuit breaker that opens on error rate or on slow-call rate over a rolling window.

The shape is Resilience4j's (which Envoy's outlier detection and LiteLLM's cooldowns
resemble): calls are recorded in a window, count-based (the last ``window`` calls) or
time-based (the last ``window_s`` seconds); once the window holds ``min_calls`` calls and
the failure rate reaches ``failure_rate`` or the share of calls slower than ``slow_call_s``
reaches ``slow_call_rate``, the breaker opens. Open, it refuses every call for
``cooldown_s``; then it lets ``half_open_calls`` probes through: all of them fine closes it
(with an empty window), one failed or slow probe opens it again for another cooldown
(probes that never report back are replaced after a cooldown).

Time comes from ``clock`` (seconds, ``time.perf_counter`` by default), so a test drives the
state machine with a fake clock:

>>> now = [0.0]
>>> b = Breaker(window=10, min_calls=4, failure_rate=0.5, cooldown_s=30, half_open_calls=2,
...             clock=lambda: now[0])
>>> for ok in (True, False, True, False):
...     b.record(ok, elapsed_s=0.01)
>>> b.state, b.allow()
('open', False)
>>> now[0] = 30.0
>>> b.allow(), b.allow(), b.allow(), b.state   # two probes, the third waits
(True, True, False, 'half_open')
>>> b.record(True, 0.01); b.record(True, 0.01)
>>> b.state, b.failure_rate_now
('closed', 0.0)

Slow calls open it too, errors or not:

>>> b = Breaker(window=4, min_calls=4, slow_call_s=0.2, slow_call_rate=0.5)
>>> for elapsed in (0.01, 0.3, 0.25, 0.02):
...     b.record(True, elapsed)
>>> b.state, b.opened
('open', 1)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
# Gauge values for wk_sdk_breaker_state.
STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class BreakerOpen(Exception):
    """The breaker refused the call (open, or half-open with its probes all out)."""


class _CountWindow:
    """The outcomes of the last ``size`` calls, with running sums."""

    __slots__ = ("calls", "failures", "pos", "ring", "size", "slow")

    def __init__(self, size: int) -> None:
        self.size = size
        self.ring = bytearray(size)  # bit 0: failed, bit 1: slow, bit 2: present
        self.pos = self.calls = self.failures = self.slow = 0

    def add(self, code: int, now: float) -> None:
        old = self.ring[self.pos]
        if old:
            self.failures -= old & 1
            self.slow -= (old >> 1) & 1
        else:
            self.calls += 1
        self.ring[self.pos] = code | 4
        self.failures += code & 1
        self.slow += (code >> 1) & 1
        self.pos = (self.pos + 1) % self.size

    def totals(self, now: float) -> tuple[int, int, int]:
        return self.calls, self.failures, self.slow

    def reset(self) -> None:
        self.ring = bytearray(self.size)
        self.pos = self.calls = self.failures = self.slow = 0


class _TimeWindow:
    """Calls of the last ``span_s`` seconds, in one-``bucket_s`` buckets."""

    __slots__ = ("bucket_s", "buckets", "calls", "failures", "slow", "span_s")

    def __init__(self, span_s: float, bucket_s: float) -> None:
        self.span_s, self.bucket_s = span_s, bucket_s
        self.buckets: deque[list[float]] = deque()  # [start, calls, failures, slow]
        self.calls = self.failures = self.slow = 0

    def _evict(self, now: float) -> None:
        horizon = now - self.span_s
        buckets = self.buckets
        while buckets and buckets[0][0] + self.bucket_s <= horizon:
            _, calls, failures, slow = buckets.popleft()
            self.calls -= int(calls)
            self.failures -= int(failures)
            self.slow -= int(slow)

    def add(self, code: int, now: float) -> None:
        start = now - now % self.bucket_s
        buckets = self.buckets
        if not buckets or buckets[-1][0] != start:
            buckets.append([start, 0, 0, 0])
            self._evict(now)
        bucket = buckets[-1]
        bucket[1] += 1
        bucket[2] += code & 1
        bucket[3] += (code >> 1) & 1
        self.calls += 1
        self.failures += code & 1
        self.slow += (code >> 1) & 1

    def totals(self, now: float) -> tuple[int, int, int]:
        self._evict(now)
        return self.calls, self.failures, self.slow

    def reset(self) -> None:
        self.buckets.clear()
        self.calls = self.failures = self.slow = 0


class Breaker:
    """Closed → open → (cooldown) → half-open → closed or open again.

    ``window`` (calls) or ``window_s`` (seconds, with ``bucket_s`` buckets) picks the
    rolling window; ``slow_call_s=None`` turns the latency trigger off. ``on_change(state)``
    is called on every transition (the guard publishes it as a gauge).
    """

    __slots__ = (
        "_lock",
        "_probes_at",
        "_probes_ok",
        "_probes_out",
        "_window",
        "clock",
        "cooldown_s",
        "failure_rate",
        "half_open_calls",
        "min_calls",
        "on_change",
        "opened",
        "opened_at",
        "slow_call_rate",
        "slow_call_s",
        "state",
    )

    def __init__(
        self,
        *,
        window: int = 100,
        window_s: float | None = None,
        bucket_s: float = 1.0,
        min_calls: int = 20,
        failure_rate: float = 0.5,
        slow_call_s: float | None = None,
        slow_call_rate: float = 1.0,
        cooldown_s: float = 30.0,
        half_open_calls: int = 3,
        clock: Callable[[], float] = time.perf_counter,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        if window < 1 or min_calls < 1 or half_open_calls < 1:
            raise ValueError("window, min_calls and half_open_calls must be at least 1")
        if not 0.0 < failure_rate <= 1.0 or not 0.0 < slow_call_rate <= 1.0:
            raise ValueError("failure_rate and slow_call_rate must be in (0, 1]")
        if cooldown_s < 0 or (window_s is not None and (window_s <= 0 or bucket_s <= 0)):
            raise ValueError("cooldown_s must be >= 0; window_s and bucket_s > 0")
        self._window = _CountWindow(window) if window_s is None else _TimeWindow(window_s, bucket_s)
        self.min_calls = min_calls
        self.failure_rate = failure_rate
        self.slow_call_s = slow_call_s
        self.slow_call_rate = slow_call_rate
        self.cooldown_s = cooldown_s
        self.half_open_calls = half_open_calls
        self.clock = clock
        self.on_change = on_change
        self.state = CLOSED
        self.opened = 0  # times it opened
        self.opened_at = 0.0
        self._probes_out = self._probes_ok = 0
        self._probes_at = 0.0
        # Transitions and the window's sums change together; uncontended it costs ~0.1 µs.
        self._lock = threading.Lock()

    # -- the two calls a guard makes ----------------------------------------------------

    def allow(self) -> bool:
        """May a call go to the model now? Closed: yes, without a lock or a clock read."""
        if self.state is CLOSED:
            return True
        with self._lock:
            now = self.clock()
            if self.state is OPEN:
                if now - self.opened_at < self.cooldown_s:
                    return False
                self._half_open(now)
            if self.state is HALF_OPEN:
                if self._probes_out >= self.half_open_calls:
                    # Probes that never report (a call hung without a deadline) must not
                    # hold it half-open for good: after another cooldown, new probes.
                    if now - self._probes_at < max(self.cooldown_s, 1e-9):
                        return False
                    self._half_open(now)
                self._probes_out += 1
            return True

    def record(self, ok: bool, elapsed_s: float, now: float | None = None) -> None:
        """The outcome of a call ``allow`` let through. ``now`` saves a clock read."""
        slow = self.slow_call_s is not None and elapsed_s >= self.slow_call_s
        code = (0 if ok else 1) | (2 if slow else 0)
        with self._lock:
            if self.state is CLOSED:
                window = self._window
                window.add(code, self.clock() if now is None else now)
                # A good call lowers both rates: it can trip the breaker only by being the
                # one that brings the window to min_calls.
                if (code or window.calls == self.min_calls) and self._tripped(now):
                    self._open(now)
            elif self.state is HALF_OPEN:
                if code:
                    self._open(now)
                else:
                    self._probes_ok += 1
                    if self._probes_ok >= self.half_open_calls:
                        self._window.reset()
                        self._set(CLOSED)
            # OPEN: a call let through before it opened; its verdict is already in.

    # -- reading ----------------------------------------------------------------------

    @property
    def failure_rate_now(self) -> float:
        calls, failures, _ = self._window.totals(self.clock())
        return failures / calls if calls else 0.0

    @property
    def slow_rate_now(self) -> float:
        calls, _, slow = self._window.totals(self.clock())
        return slow / calls if calls else 0.0

    def reset(self) -> None:
        with self._lock:
            self._window.reset()
            self._set(CLOSED)

    # -- internals --------------------------------------------------------------------

    def _tripped(self, now: float | None) -> bool:
        calls, failures, slow = self._window.totals(self.clock() if now is None else now)
        if calls < self.min_calls:
            return False
        return failures >= self.failure_rate * calls or (
            self.slow_call_s is not None and slow >= self.slow_call_rate * calls
        )

    def _half_open(self, now: float) -> None:
        self._set(HALF_OPEN)
        self._probes_out = self._probes_ok = 0
        self._probes_at = now

    def _open(self, now: float | None) -> None:
        self.opened_at = self.clock() if now is None else now
        self.opened += 1
        self._set(OPEN)

    def _set(self, state: str) -> None:
        if state is not self.state:
            self.state = state
            if self.on_change is not None:
                self.on_change(state)
