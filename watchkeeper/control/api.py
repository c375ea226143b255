"""A control-plane API on aiohttp: bearer tokens checked per operation, bodies capped and
checked against their JSON schema, write headers read, errors as ``{"error": reason}``,
and the OpenAPI document at ``/openapi.json``. ``/healthz`` and ``/metrics`` share the
port (one HTTP server per process).

======  =====================================================================
status  when
======  =====================================================================
400     not JSON, too deeply nested, a field wrong or unknown (named by its
        JSON path), a missing ``Idempotency-Key``, a bad ``If-Match``
401     no bearer token, or an unknown one (``WWW-Authenticate: Bearer``)
403     the token lacks the operation's scope
404     no such endpoint or entity; 405 the method is not allowed
409     stale ``If-Match``, or a conflict the domain names (gated alias moves)
413     the body is larger than the cap; 415 not ``application/json``
422     an ``Idempotency-Key`` reused for another request
503     Kafka did not take the write (retry with the same key)
======  =====================================================================
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

from ..auth import TokenTable
from .commands import Rejected
from .errors import error_middleware, error_response
from .openapi import document
from .operations import Call, Operation, Reply

log = logging.getLogger(__name__)
REQUESTS = Counter(
    "wk_api_requests_total", "API requests by endpoint and status.", ["service", "endpoint", "code"]
)
MAX_KEY = 200


class Api:
    def __init__(
        self,
        service: str,
        version: str,
        operations: Iterable[Operation],
        tokens: TokenTable,
        max_body: int,
        health: Callable[[], tuple[int, dict[str, Any]]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.operations = list(operations)
        self.tokens = tokens
        self.max_body = max_body
        self.health = health
        self.clock = clock
        self.openapi = document(f"watchkeeper {service}", version, self.operations)
        self._validators = {
            id(op): Draft202012Validator(op.body) for op in self.operations if op.body is not None
        }

    def app(self) -> web.Application:
        errors = error_middleware(
            self.max_body, lambda e, status: REQUESTS.labels(self.service, e, str(status)).inc()
        )
        app = web.Application(client_max_size=self.max_body, middlewares=[errors])
        for op in self.operations:
            app.router.add_route(op.method, op.path, self._route(op))
        app.router.add_get("/openapi.json", self._openapi)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self.openapi)

    async def _healthz(self, request: web.Request) -> web.Response:
        status, body = self.health()
        return web.json_response(body, status=status)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _route(self, op: Operation) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            token = None
            if op.scope is not None:
                checked = self.tokens.check(request.headers.get("Authorization", ""), op.scope)
                if isinstance(checked, tuple):
                    return error_response(*checked)
                token = checked
            try:
                call = await self._call(op, request, token)
                reply = await op.handler(call)
            except Rejected as exc:
                return error_response(exc.status, exc.reason)
            return web.json_response(reply.body, status=reply.status, headers=dict(reply.headers))

        return handle

    async def _call(self, op: Operation, request: web.Request, token: Any) -> Call:
        body: Any = None
        if op.body is not None or op.raw:
            body = await self._body(request)
            validator = self._validators.get(id(op))
            if validator is not None:
                error = best_match(validator.iter_errors(body))
                if error is not None:
                    raise Rejected(400, f"{error.json_path}: {error.message}")
        key, expected = "", None
        if op.write:
            key = request.headers.get("Idempotency-Key", "").strip()
            if not key or len(key) > MAX_KEY or not key.isprintable():
                raise Rejected(400, f"the Idempotency-Key header is required (1-{MAX_KEY} chars)")
            match = request.headers.get("If-Match", "").strip().strip('"')
            if match:
                if not match.isdigit():
                    raise Rejected(400, "If-Match must be an entity version (an integer)")
                expected = int(match)
        return Call(
            params=dict(request.match_info),
            query={k: request.query.getall(k) for k in set(request.query.keys())},
            body=body,
            token=token,
            source=request.remote or "",
            at_ms=int(self.clock() * 1000),
            idempotency_key=key,
            expected_version=expected,
            bearer=_bearer(request) if op.scope is None else "",
        )

    async def _body(self, request: web.Request) -> Any:
        if request.method == "DELETE" and not request.can_read_body:
            return {}
        if request.content_type != "application/json":
            raise Rejected(415, "the body must be application/json")
        raw = await request.read()
        if not raw and request.method == "DELETE":
            return {}  # a delete without a reason
        try:
            return json.loads(raw, parse_constant=_no_constant)
        except RecursionError as exc:
            raise Rejected(400, "the body is nested too deeply") from exc
        except ValueError as exc:
            raise Rejected(400, f"the body is not JSON: {exc}") from exc


def _bearer(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and no schema bound holds them back (every
    # comparison with NaN is false): refused here, for every control API at once.
    raise ValueError(f"{name} is not a JSON number")


def ok(body: Any, status: int = 200) -> Reply:
    return Reply(status, body)
