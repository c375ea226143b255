"""Retry classification, backoff with full jitter, Retry-After and the give-up budget.

The receiver is httpx.MockTransport here (the one place a stand-in is used: it scripts
network errors and headers exactly); time, sleep and randomness are injected, so nothing
waits for real."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable

import httpx
import pytest

from services.router.answers import http_answer
from services.router.retry import RetryPolicy, deliver


class Clock:
    def __init__(self, start: float = 1767225600.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def scripted(answers: Iterable[httpx.Response | Exception]) -> tuple[httpx.MockTransport, list]:
    queue = list(answers)
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if queue else httpx.Response(200)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handle), seen


def run(
    answers: Iterable[httpx.Response | Exception],
    policy: RetryPolicy | None = None,
    stopping: Callable[[], bool] = lambda: False,
):
    transport, seen = scripted(answers)
    clock = Clock()
    results: list[tuple[str, int | None]] = []

    async def go():
        async with httpx.AsyncClient(transport=transport) as client:
            return await deliver(
                lambda: http_answer(client.post("http://receiver.test/hook", content=b"{}"), clock),
                policy or RetryPolicy(),
                rng=random.Random(42),
                sleep=clock.sleep,
                clock=clock,
                stopping=stopping,
                on_attempt=lambda result, status: results.append((result, status)),
            )

    outcome = asyncio.run(go())
    return outcome, seen, clock, results


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_and_429_are_retried(status: int) -> None:
    outcome, seen, clock, results = run([httpx.Response(status), httpx.Response(status)])
    assert (outcome.ok, outcome.attempts, outcome.reason, len(seen)) == (True, 3, "delivered", 3)
    assert len(clock.slept) == 2
    kind = "rate_limited" if status == 429 else "server_error"
    assert [r for r, _ in results] == [kind, kind, "success"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 413, 422, 301, 302])
def test_other_answers_are_not_retried(status: int) -> None:
    outcome, seen, clock, results = run([httpx.Response(status)])
    assert (outcome.ok, outcome.attempts, outcome.reason, outcome.status) == (
        False,
        1,
        "rejected",
        status,
    )
    assert len(seen) == 1 and clock.slept == []
    assert results == [("rejected", status)]


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_network_errors_and_timeouts_are_retried(error: Exception) -> None:
    outcome, _, _, results = run([error])
    assert (outcome.ok, outcome.attempts) == (True, 2)
    assert results[0] == ("network_error", None)


def test_backoff_is_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(max_attempts=8, base_s=1.0, max_backoff_s=10.0, max_elapsed_s=1e9)
    outcome, _, clock, _ = run([httpx.Response(500)] * 7, policy)
    assert outcome.ok and outcome.attempts == 8
    ceilings = [1, 2, 4, 8, 10, 10, 10]
    assert all(0 <= slept <= cap for slept, cap in zip(clock.slept, ceilings, strict=True))
    # Full jitter: the same RNG gives the same waits; they are not the ceilings themselves.
    rng = random.Random(42)
    assert clock.slept == [policy.backoff(n, rng) for n in range(1, 8)]
    assert clock.slept != ceilings


def test_retry_after_in_seconds_is_honoured() -> None:
    outcome, _, clock, _ = run([httpx.Response(429, headers={"Retry-After": "7"})])
    assert outcome.ok and clock.slept == [7.0]


def test_retry_after_as_an_http_date_is_honoured() -> None:
    # The clock starts at 2026-01-01T00:00:00Z.
    date = "Thu, 01 Jan 2026 00:00:12 GMT"
    outcome, _, clock, _ = run([httpx.Response(503, headers={"Retry-After": date})])
    assert outcome.ok and clock.slept == [12.0]


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(max_retry_after_s=5.0)
    outcome, _, clock, _ = run([httpx.Response(429, headers={"Retry-After": "3600"})], policy)
    assert outcome.ok and clock.slept == [5.0]


def test_unreadable_retry_after_falls_back_to_backoff() -> None:
    policy = RetryPolicy(base_s=1.0)
    outcome, _, clock, _ = run([httpx.Response(503, headers={"Retry-After": "soon"})], policy)
    assert outcome.ok and 0 <= clock.slept[0] <= 1.0


def test_gives_up_after_max_attempts() -> None:
    outcome, seen, _, _ = run([httpx.Response(500)] * 10, RetryPolicy(max_attempts=3))
    assert (outcome.ok, outcome.reason, outcome.attempts, len(seen)) == (False, "gave_up", 3, 3)
    assert outcome.status == 500


def test_gives_up_when_the_next_wait_would_pass_the_elapsed_budget() -> None:
    policy = RetryPolicy(max_attempts=100, max_elapsed_s=10.0)
    answers = [httpx.Response(503, headers={"Retry-After": "4"})] * 10
    outcome, _, clock, _ = run(answers, policy)
    # Waits of 4 s at 0, 4, 8: the third would end at 12 s, past the 10 s budget.
    assert (outcome.reason, outcome.attempts, clock.slept) == ("gave_up", 3, [4.0, 4.0])


def test_stops_retrying_on_shutdown() -> None:
    outcome, _, clock, _ = run([httpx.Response(500)] * 5, stopping=lambda: True)
    assert (outcome.reason, outcome.attempts, clock.slept) == ("cancelled", 1, [])
