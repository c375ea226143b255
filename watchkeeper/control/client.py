"""A Python client for a control-plane API: JSON in and out, the bearer token, and writes
that are safe to retry.

Every write carries an ``Idempotency-Key`` (a fresh one per call unless the caller gives
one); when the service cannot be reached or answers 503, the client sends the same
request with the same key again (backing off), so a write the service did commit but
whose answer was lost is applied once. A refusal raises :class:`ApiError` with the
service's reason.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

RETRYABLE = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, httpx.TimeoutException)


class ApiError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class Client:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout_s: float = 10.0,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        self.retries = retries

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, **query: Any) -> Any:
        params = {k: v for k, v in query.items() if v is not None}
        return self._send("GET", path, params=params)

    def write(
        self,
        method: str,
        path: str,
        body: Any = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        if expected_version is not None:
            headers["If-Match"] = str(expected_version)
        return self._send(method, path, json=body if body is not None else {}, headers=headers)

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        delay = 0.2
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._http.request(method, path, **kwargs)
            except RETRYABLE as exc:
                if last:
                    raise ApiError(503, f"{self._http.base_url} unreachable: {exc}") from exc
            else:
                if response.status_code != 503 or last:
                    return _result(response)
            time.sleep(delay)  # a backoff between attempts, not a synchronisation
            delay = min(delay * 2, 3.0)
        raise AssertionError("unreachable")


def _result(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        return body
    reason = body.get("error") if isinstance(body, dict) else None
    raise ApiError(response.status_code, reason or response.text[:200] or response.reason_phrase)
