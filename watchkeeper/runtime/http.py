"""The one HTTP server of a service: ``/metrics`` (Prometheus), ``/healthz``, and the
routes the service adds (``kit.routes``), on a small thread.

It runs beside whatever consumes Kafka (a Faust worker or a batch consumer) so that a
stuck event loop still answers ``/metrics`` and the health check can say it is stuck.
Request bodies are capped (``MAX_BODY``): 413 beyond, 400 for a bad length.
``/metrics`` answers OpenMetrics when the scraper's ``Accept`` asks for it (Prometheus does),
the classic text format otherwise; the server sets ``wk_build_info`` for its service.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from ..kit.routes import Request, Response, Route, error
from .metrics import build_info

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20


class Health:
    """What ``/healthz`` reports: starting -> ok -> stopping, or failed with a reason; while
    ok, a check that finds a problem turns it into ``degraded`` (or the status that check
    names, such as ``stalled``).

    >>> health = Health("slo"); health.ready()
    >>> health.add_check(lambda: "no event processed for 61 s", status="stalled")
    >>> health.report()
    (503, {'service': 'slo', 'status': 'stalled', 'problems': ['no event processed for 61 s']})
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.state = "starting"
        self.reason = ""
        self._checks: list[tuple[Callable[[], str | None], str]] = []

    def ready(self) -> None:
        self.state = "ok"

    def stopping(self) -> None:
        self.state = "stopping"

    def failed(self, reason: str) -> None:
        self.state, self.reason = "failed", reason

    def add_check(self, check: Callable[[], str | None], status: str = "degraded") -> None:
        """A check returns None when fine, or a sentence on what is wrong."""
        self._checks.append((check, status))

    def report(self) -> tuple[int, dict[str, object]]:
        found = [(p, status) for p, status in ((c(), s) for c, s in self._checks) if p]
        problems = [p for p, _ in found]
        state = self.state
        if state == "ok" and found:
            state = next((s for _, s in found if s != "degraded"), "degraded")
        body: dict[str, object] = {"service": self.service, "status": state}
        if self.reason:
            body["reason"] = self.reason
        if problems:
            body["problems"] = problems
        return (200 if state == "ok" else 503), body


class ServiceHTTP:
    """A threaded HTTP server with /metrics and /healthz; start() returns at once."""

    def __init__(
        self,
        health: Health,
        host: str = "127.0.0.1",
        port: int = 0,
        registry: CollectorRegistry = REGISTRY,
        routes: Sequence[Route] = (),
    ) -> None:
        self.health = health
        self.registry = registry
        build_info(health.service)
        self.routes = list(routes)
        handler = self._handler()
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="wk-http", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> ServiceHTTP:
        self._thread.start()
        log.info("http listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    encode, content_type = choose_encoder(self.headers.get("Accept") or "")
                    self._send(200, encode(outer.registry), content_type)
                elif path == "/healthz":
                    status, body = outer.health.report()
                    self._send(status, json.dumps(body).encode(), "application/json")
                else:
                    self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def _route(self, method: str) -> None:
                path, _, query = self.path.partition("?")
                route = next((r for r in outer.routes if r.matches(method, path)), None)
                if route is None:
                    known = any(r.matches(m, path) for r in outer.routes for m in ("GET", "POST"))
                    answer = error(405, "method not allowed") if known else error(404, "not found")
                    self._answer(answer)
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    self._answer(error(400, "bad Content-Length"))
                    return
                if length > MAX_BODY:
                    self._answer(error(413, f"body over {MAX_BODY} bytes"))
                    return
                request = Request(
                    method,
                    path,
                    dict(parse_qsl(query)),
                    self.rfile.read(length) if length > 0 else b"",
                    {k.lower(): v for k, v in self.headers.items()},
                    rest=path[len(route.prefix) :] if route.prefix.endswith("/") else "",
                )
                try:
                    answer = route.handle(request)
                except Exception:  # a route's bug is a 500 with a log, not a dead server
                    log.exception("route failed", extra={"path": path, "method": method})
                    answer = error(500, "internal error")
                self._answer(answer)

            def _answer(self, answer: Response) -> None:
                self._send(answer.status, answer.payload(), answer.content_type)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # scrapes every few seconds would drown the service's own logs

        return Handler
