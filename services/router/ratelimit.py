"""A per-integration rate limit: at most ``count`` notifications per ``period``.

A token bucket (capacity ``count``, refilled continuously). A notification that finds it
empty waits for a token rather than being dropped: while it waits, a newer flush of the
same group replaces it (the notifier's lanes), so a storm is coalesced into fewer, fuller
notifications instead of being cut off. The clock is injected.

>>> now = [0.0]
>>> bucket = TokenBucket(count=2, period_s=60.0, clock=lambda: now[0])
>>> bucket.take(), bucket.take(), bucket.take()
(0.0, 0.0, 30.0)
>>> now[0] = 30.0
>>> bucket.take()
0.0
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """A receiver's ``rate_limit``: ``count`` notifications ``per`` period, per integration."""

    count: int
    period_s: float


class TokenBucket:
    def __init__(self, count: int, period_s: float, clock: Callable[[], float] = time.time) -> None:
        self.capacity = float(count)
        self.rate = count / period_s  # tokens per second
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()

    def take(self) -> float:
        """Take a token if one is there and return 0; else return the seconds until one is
        (nothing taken: the caller waits, then asks again)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate
