"""Delivering one notification: which answers to retry, how long to wait, when to give up.

Each attempt yields an :class:`~.answers.Answer`: ``ok`` is delivered, ``reject`` is given
up at once, ``retry`` is tried again with exponential backoff and full jitter
(``uniform(0, min(cap, base * 2**n))``), or after the answer's ``retry_after_s`` (capped),
until the budget (attempts, and elapsed time) is spent.

Time, sleeping and randomness are injected, so the tests run without waiting.

>>> import random
>>> policy = RetryPolicy(base_s=0.5, max_backoff_s=4.0)
>>> [round(policy.backoff(n, random.Random(1)), 3) for n in (1, 2, 3, 6)]
[0.067, 0.134, 0.269, 0.537]
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .answers import Answer


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    max_elapsed_s: float = 120.0
    base_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 60.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter after the ``attempt``-th failure: spreads a herd of retries."""
        ceiling = min(self.max_backoff_s, self.base_s * 2 ** (attempt - 1))
        return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    attempts: int
    reason: str  # delivered | rejected | gave_up | cancelled
    status: int | None = None  # the last status, if any answer came
    error: str = ""  # the last failure, for the log


async def deliver(
    attempt: Callable[[], Awaitable[Answer]],
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
    stopping: Callable[[], bool] = lambda: False,
    on_attempt: Callable[[str, int | None], None] = lambda result, status: None,
) -> Outcome:
    """Call ``attempt`` until it succeeds, is rejected, or the budget is spent.

    ``on_attempt(result, status)`` hears of every try: result is ``success``,
    ``server_error``, ``rate_limited``, ``rejected`` or ``network_error`` (a retry without
    a status: nothing answered).
    """
    rng = rng or random.Random()
    started = clock()
    attempts = 0
    while True:
        attempts += 1
        answer = await attempt()
        status, error = answer.status, answer.error
        if answer.verdict == "ok":
            on_attempt("success", status)
            return Outcome(True, attempts, "delivered", status)
        if answer.verdict == "reject":
            on_attempt("rejected", status)
            return Outcome(False, attempts, "rejected", status, error)
        if status is None:
            on_attempt("network_error", None)
        else:
            on_attempt("rate_limited" if status == 429 else "server_error", status)
        if stopping():
            return Outcome(False, attempts, "cancelled", status, error)
        if attempts >= policy.max_attempts:
            return Outcome(False, attempts, "gave_up", status, error)
        if answer.retry_after_s is not None:
            delay = min(answer.retry_after_s, policy.max_retry_after_s)
        else:
            delay = policy.backoff(attempts, rng)
        if clock() + delay - started > policy.max_elapsed_s:
            return Outcome(False, attempts, "gave_up", status, error)
        await sleep(delay)
        if stopping():
            return Outcome(False, attempts, "cancelled", status, error)
