"""What a receiver answered, in the only terms delivery cares about: :class:`Answer`.

Every integration's ``send`` returns one, whatever it speaks: HTTP ones read their
response with :func:`http_answer` (a network error or timeout is an answer too: retry,
no status), email makes one from SMTP's reply codes. Retrying, logging and metrics then
never look at a protocol.

* 2xx: ok.
* 5xx and 429: retry, after ``Retry-After`` when the receiver says so (seconds or an HTTP
  date);
* any other status (4xx, and 3xx since redirects are not followed): reject; the same body
  would be rejected again.

>>> classify(503), classify(429), classify(404), classify(204)
('retry', 'retry', 'reject', 'ok')
>>> parse_retry_after("120", now_s=0.0)
120.0
>>> parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now_s=1767225600.0)
60.0
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx


@dataclass(frozen=True)
class Answer:
    """One attempt's result: ``verdict`` decides, the rest is for the log and the wait."""

    verdict: str  # ok | retry | reject
    status: int | None = None  # the protocol's own code (HTTP status, SMTP reply ...)
    error: str = ""
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


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


async def http_answer(
    response: Awaitable[httpx.Response],
    clock: Callable[[], float] = time.time,
    classify_status: Callable[[int], str] = classify,
) -> Answer:
    """The answer of one HTTP request (``response`` is the pending call)."""
    try:
        answered = await response
    except httpx.TransportError as exc:
        return Answer("retry", None, f"{type(exc).__name__}: {exc}")
    status = answered.status_code
    return Answer(
        classify_status(status),
        status,
        f"HTTP {status}",
        parse_retry_after(answered.headers.get("Retry-After"), clock()),
    )
