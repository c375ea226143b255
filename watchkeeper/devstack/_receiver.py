"""An on-call webhook receiver for the demo, the tests and the benchmarks.

A real HTTP server on 127.0.0.1 that records every request (arrival time, headers, JSON
body) and answers from a script, so that tests can make it fail the way real receivers
fail (500s, 429 with Retry-After, 4xx, slowness).

>>> receiver = WebhookReceiver().start()
>>> receiver.script("/flaky", [500, 500, 200])
>>> import httpx
>>> [httpx.post(receiver.url + "/flaky", json={"n": i}).status_code for i in range(4)]
[500, 500, 200, 200]
>>> [r.status for r in receiver.requests("/flaky")]
[500, 500, 200, 200]
>>> receiver.stop()
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Response:
    """One scripted answer: a status, optional headers, and an optional delay first."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Received:
    path: str
    status: int  # what the receiver answered
    at: float  # time.time() on arrival
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text if it was not JSON


class WebhookReceiver:
    """Records POSTs; answers 200 unless a script for the path says otherwise."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._scripts: dict[str, list[Response]] = {}
        self._default: dict[str, Response] = {}
        self._arrived = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(
        self, path: str, answers: Iterable[int | Response], then: int | Response = 200
    ) -> None:
        """Answer the next requests to ``path`` with ``answers`` in order, then ``then``."""
        with self._lock:
            self._scripts[path] = [a if isinstance(a, Response) else Response(a) for a in answers]
            self._default[path] = then if isinstance(then, Response) else Response(then)

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def delivered(self, path: str | None = None) -> list[Received]:
        """Requests that were answered with a 2xx: the notifications that got through."""
        return [r for r in self.requests(path) if 200 <= r.status < 300]

    def wait_for(
        self,
        count: int,
        path: str | None = None,
        timeout: float = 30.0,
        delivered_only: bool = True,
    ) -> list[Received]:
        """Block until ``count`` (delivered) requests arrived; return them (maybe fewer)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [
                    r
                    for r in self._received
                    if (path is None or r.path == path)
                    and (not delivered_only or 200 <= r.status < 300)
                ]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._arrived.wait(min(left, 0.2))

    def _answer(self, path: str) -> Response:
        with self._lock:
            queue = self._scripts.get(path)
            if queue:
                return queue.pop(0)
            return self._default.get(path, Response(200))

    def _record(self, entry: Received) -> None:
        with self._arrived:
            self._received.append(entry)
            self._arrived.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                answer = outer._answer(self.path)
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                outer._record(
                    Received(
                        self.path,
                        answer.status,
                        arrived,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                payload = b'{"ok": true}' if answer.status < 300 else b'{"error": "scripted"}'
                try:
                    self.send_response(answer.status)
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender died mid-request (a crash test): it was recorded

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
