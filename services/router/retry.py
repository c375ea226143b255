"""Delivering one notification: which answers to retry, how long to wait, when to give up.

* 2xx: delivered.
* network errors and timeouts, 5xx, 429: retried, with exponential backoff and full
  jitter (``uniform(0, min(cap, base * 2**n))``), or after ``Retry-After`` when the
  receiver says so (seconds or an HTTP date, capped);
* any other answer (4xx, and 3xx since redirects are not followed): rejected at once; the
  same body would be rejected again.
* the budget (attempts, and elapsed time) spent: given up.

Integrations that do not speak HTTP (email) answer with an :class:`Answer` instead of an
``httpx.Response``; integrations whose service says more than its status (Slack puts the
error in the body) pass their own ``classify``.

Time, sleeping and randomness are injected, so the tests run without waiting.

>>> classify(503), classify(429), classify(404), classify(204)
('retry', 'retry', 'reject', 'ok')
>>> parse_retry_after("120", now_s=0.0)
120.0
>>> parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now_s=1767225600.0)
60.0
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
from email.utils import parsedate_to_datetime

import httpx


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
    status: int | None = None  # the last HTTP status, if any answer came
    error: str = ""  # the last failure, for the log


@dataclass(frozen=True)
class Answer:
    """A receiver's answer in the terms retrying cares about (for non-HTTP integrations)."""

    verdict: str  # ok | retry | reject
    status: int | None = None  # the protocol's own code (an SMTP reply code ...)
    error: str = ""
    retry_after_s: float | None = None


def classify(status: int) -> str:
    """``ok``, ``retry`` or ``reject`` for an HTTP status."""
    if 200 <= status < 300:
        return "ok"
    if status >= 500 or status == 429:
        return "retry"
    return "reject"


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now_s)


async def deliver(
    attempt: Callable[[], Awaitable[httpx.Response | Answer]],
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
    stopping: Callable[[], bool] = lambda: False,
    on_attempt: Callable[[str, int | None], None] = lambda result, status: None,
    classify_response: Callable[[httpx.Response], str] = lambda r: classify(r.status_code),
) -> Outcome:
    """Call ``attempt`` until it succeeds, is rejected, or the budget is spent.

    ``on_attempt(result, status)`` hears of every try: result is ``success``,
    ``server_error``, ``rate_limited``, ``rejected`` or ``network_error``.
    """
    rng = rng or random.Random()
    started = clock()
    attempts = 0
    while True:
        attempts += 1
        retry_after: float | None = None
        try:
            response = await attempt()
        except httpx.TransportError as exc:
            on_attempt("network_error", None)
            status, error = None, f"{type(exc).__name__}: {exc}"
        else:
            if isinstance(response, Answer):
                verdict, status, error = response.verdict, response.status, response.error
                retry_after = response.retry_after_s
            else:
                status = response.status_code
                verdict, error = classify_response(response), f"HTTP {status}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"), clock())
            if verdict == "ok":
                on_attempt("success", status)
                return Outcome(True, attempts, "delivered", status)
            if verdict == "reject":
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
        if retry_after is not None:
            delay = min(retry_after, policy.max_retry_after_s)
        else:
            delay = policy.backoff(attempts, rng)
        if clock() + delay - started > policy.max_elapsed_s:
            return Outcome(False, attempts, "gave_up", status, error)
        await sleep(delay)
        if stopping():
            return Outcome(False, attempts, "cancelled", status, error)
