"""The write-failure state: since when, the last error, when to try again (exponential
backoff up to a cap).

>>> state = Failing(retry_max_s=4.0)
>>> state.failed("OSError: disk full", now_ms=1000, now_s=10.0), state.retry_at_s
(True, 10.5)
>>> [state.failed("again", 2000, 11.0) for _ in range(4)][-1], state.delay_s, state.since_ms
(False, 4.0, 1000)
>>> state.cleared(); state.since_ms is None, state.delay_s
(True, 0.5)
"""

from __future__ import annotations

FIRST_DELAY_S = 0.5


class Failing:
    def __init__(self, retry_max_s: float) -> None:
        self.retry_max_s = retry_max_s
        self.since_ms: int | None = None
        self.error = ""
        self.delay_s = FIRST_DELAY_S
        self.retry_at_s = 0.0

    def failed(self, error: str, now_ms: int, now_s: float) -> bool:
        """Record a failure; True when it is the first of a streak."""
        first = self.since_ms is None
        if first:
            self.since_ms, self.delay_s = now_ms, FIRST_DELAY_S
        else:
            self.delay_s = min(self.delay_s * 2, self.retry_max_s)
        self.error = error
        self.retry_at_s = now_s + self.delay_s
        return first

    def cleared(self) -> None:
        self.since_ms, self.error, self.delay_s = None, "", FIRST_DELAY_S
