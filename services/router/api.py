"""The router's HTTP API (aiohttp, on the router's own event loop).

=======  ==================================  ======  =====================================
method   path                                scope   what
=======  ==================================  ======  =====================================
GET      /api/v1/health                      read    state, counts
GET      /api/v1/alerts                      read    firing alerts, why muted, groups
GET      /api/v1/silences                    read    every silence with its state
POST     /api/v1/silences                    admin   create: matchers, starts_at, ends_at
                                                     or duration, comment
DELETE   /api/v1/silences/{id}               admin   expire now
GET      /api/v1/escalations                 read    open escalations
GET      /api/v1/incidents[/{id}]            read    incidents with their timelines
POST     /api/v1/ack                         ack     acknowledge: escalation, incident,
                                                     fingerprint or group_key; comment
POST     /api/v1/resolve                     ack     resolve (same selectors)
POST     /api/v1/alertmanager                ingest  Alertmanager's webhook payload
*        /api/v2/...                         ...     Alertmanager's v2 API (``v2api``)
GET/POST /ack/{escalation id}?t=...          link    the acknowledge link of a message
=======  ==================================  ======  =====================================

Every ``/api`` request needs ``Authorization: Bearer <token>``: none or an unknown one is
401, a token without the scope 403. Bodies are JSON, at most ``max_body`` bytes (413);
a bad request gets 4xx with ``{"error": <reason>}``. No access log: a URL or header
never reaches a log line.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from watchkeeper.codec import Codec
from watchkeeper.control.errors import error_middleware, error_response

from . import ingest, metrics
from .auth import AckLinks, Token, TokenTable
from .engine import Engine, EscalationError, StateWriteError
from .escalation import Escalation
from .matchers import MatcherError, parse_matchers
from .silences import SilenceError
from .v2api import V2Api

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes | None, bytes, list[tuple[str, bytes]] | None], Awaitable[None]]
Health = Callable[[], tuple[int, dict[str, Any]]]
_TOKEN = web.RequestKey("wk.router.token", Token)  # the caller, as the guard found it
_SELECTORS = ("escalation", "incident", "fingerprint", "group_key")


class Api:
    def __init__(
        self,
        engine: Engine,
        tokens: TokenTable,
        links: AckLinks | None,
        publish: Publish,
        dead_letter: Callable[..., Awaitable[None]],  # (value, error, kind[, origin])
        health: Health,
        max_body: int,
        topic: Callable[[str], str],
    ) -> None:
        self.engine = engine
        self.tokens = tokens
        self.links = links
        self.publish = publish
        self.dead_letter = dead_letter
        self.health = health
        self.max_body = max_body
        self.topic = topic
        self.codec = Codec()

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.max_body, middlewares=[error_middleware(self.max_body, _count)]
        )
        routes = [
            ("GET", "/api/v1/health", "read", self.get_health),
            ("GET", "/api/v1/alerts", "read", self.get_alerts),
            ("GET", "/api/v1/silences", "read", self.get_silences),
            ("POST", "/api/v1/silences", "admin", self.post_silence),
            ("DELETE", "/api/v1/silences/{id}", "admin", self.delete_silence),
            ("GET", "/api/v1/escalations", "read", self.get_escalations),
            ("GET", "/api/v1/incidents", "read", self.get_incidents),
            ("GET", "/api/v1/incidents/{id}", "read", self.get_incident),
            ("POST", "/api/v1/ack", "ack", self.post_ack),
            ("POST", "/api/v1/resolve", "ack", self.post_resolve),
            ("POST", "/api/v1/alertmanager", "ingest", self.post_alertmanager),
        ]
        routes += V2Api(self, lambda request: request[_TOKEN].name).routes()
        for method, path, scope, handler in routes:
            app.router.add_route(method, path, self._guard(scope, handler))
        app.router.add_get("/ack/{id}", self.get_ack_link)
        app.router.add_post("/ack/{id}", self.post_ack_link)
        return app

    # -- plumbing -------------------------------------------------------------------------

    def _guard(self, scope: str, handler: Any) -> Any:
        async def guarded(request: web.Request) -> web.StreamResponse:
            token = self.tokens.check(request.headers.get("Authorization", ""), scope)
            if isinstance(token, tuple):
                status, reason = token
                return _error(status, reason)
            request[_TOKEN] = token
            return await handler(request)

        return guarded

    async def _json(self, request: web.Request) -> Any:
        if request.content_type != "application/json":
            raise _Reject(415, "the body must be application/json")
        raw = await request.read()
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise _Reject(400, f"the body is not valid JSON: {exc}") from None

    # -- reading --------------------------------------------------------------------------

    async def get_health(self, request: web.Request) -> web.Response:
        status, body = self.health()
        engine = self.engine
        body.update(
            alerts_firing=len(engine.alerts),
            groups=len(engine.dispatcher),
            escalations=len(engine.escalations),
            incidents_open=engine.incidents.open_count(),
            silences_active=sum(
                1 for s in engine.silences.all() if s.state(engine.now_ms()) == "active"
            ),
        )
        return _json(status, body)

    async def get_alerts(self, request: web.Request) -> web.Response:
        return _json(200, {"alerts": self.engine.alert_views()})

    async def get_silences(self, request: web.Request) -> web.Response:
        now = self.engine.now_ms()
        return _json(200, {"silences": [s.to_json(now) for s in self.engine.silences.all()]})

    async def get_escalations(self, request: web.Request) -> web.Response:
        found = self.engine.escalations.escalations.values()
        return _json(200, {"escalations": [e.to_json() for e in found]})

    async def get_incidents(self, request: web.Request) -> web.Response:
        return _json(200, {"incidents": self.engine.incidents.all()})

    async def get_incident(self, request: web.Request) -> web.Response:
        incident = self.engine.incidents.get(request.match_info["id"])
        if incident is None:
            return _error(404, "no such incident")
        return _json(200, incident)

    # -- silences -------------------------------------------------------------------------

    async def post_silence(self, request: web.Request) -> web.Response:
        try:
            body = await self._json(request)
            if not isinstance(body, dict):
                raise _Reject(400, "the body must be a JSON object")
            raw = body.get("matchers")
            if isinstance(raw, str):
                raw = [raw]
            if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
                raise _Reject(400, "matchers must be a list of strings like 'model=\"fraud\"'")
            matchers = [m for text in raw for m in parse_matchers(text)]
            now = self.engine.now_ms()
            starts = ingest.parse_time(body.get("starts_at"), "starts_at") or now
            if "ends_at" in body:
                ends = ingest.parse_time(body["ends_at"], "ends_at")
            elif "duration" in body:
                from watchkeeper.yamlconf import parse_duration

                ends = starts + int(parse_duration(str(body["duration"])) * 1000)
            else:
                raise _Reject(400, "give ends_at (RFC 3339) or duration (e.g. 2h)")
            comment = body.get("comment")
            if not isinstance(comment, str) or not comment.strip():
                raise _Reject(400, "a silence needs a comment: why")
            token: Token = request[_TOKEN]
            silence = await self.engine.create_silence(
                matchers, starts, ends or 0, token.name, comment.strip()
            )
        except (MatcherError, SilenceError, ValueError) as exc:
            return _error(400, str(exc))
        except _Reject as exc:
            return _error(exc.status, exc.reason)
        except StateWriteError as exc:
            return _error(503, f"the silence could not be stored: {exc}")
        return _json(201, silence.to_json(self.engine.now_ms()))

    async def delete_silence(self, request: web.Request) -> web.Response:
        token: Token = request[_TOKEN]
        try:
            silence = await self.engine.expire_silence(request.match_info["id"], token.name)
        except KeyError:
            return _error(404, "no such silence")
        except SilenceError as exc:
            return _error(409, str(exc))
        except StateWriteError as exc:
            return _error(503, f"the change could not be stored: {exc}")
        return _json(200, silence.to_json(self.engine.now_ms()))

    # -- acknowledging ------------------------------------------------------------------

    async def post_ack(self, request: web.Request) -> web.Response:
        return await self._act(request, "acknowledged")

    async def post_resolve(self, request: web.Request) -> web.Response:
        return await self._act(request, "resolved")

    async def _act(self, request: web.Request, action: str) -> web.Response:
        try:
            body = await self._json(request)
        except _Reject as exc:
            return _error(exc.status, exc.reason)
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        given = {k: body[k] for k in _SELECTORS if k in body}
        if len(given) != 1 or not all(isinstance(v, str) and v for v in given.values()):
            return _error(400, f"name exactly one of {', '.join(_SELECTORS)} (a string)")
        comment = body.get("comment", "")
        if not isinstance(comment, str):
            return _error(400, "comment must be a string")
        found = self.engine.find_escalations(given)
        if not found:
            what, value = next(iter(given.items()))
            return _error(404, f"no open escalation for {what} {value!r}")
        token: Token = request[_TOKEN]
        try:
            done = [await self._apply(esc, action, token.name, comment) for esc in found]
        except EscalationError as exc:
            return _error(409, str(exc))
        except StateWriteError as exc:
            return _error(503, f"the change could not be stored: {exc}")
        return _json(200, {action: [e.to_json() for e in done]})

    async def _apply(self, esc: Escalation, action: str, by: str, comment: str) -> Escalation:
        if action == "acknowledged":
            await self.engine.acknowledge(esc, by, comment)
        else:
            await self.engine.resolve(esc, by, comment)
        log.info(f"escalation {action}", extra={"escalation": esc.id, "by": by})
        return esc

    async def get_ack_link(self, request: web.Request) -> web.Response:
        esc = self._linked(request, request.query.get("t", ""))
        if isinstance(esc, web.Response):
            return esc
        # A GET never acknowledges: chat apps and mail scanners fetch links on their own.
        page = (
            "<!doctype html><title>Acknowledge</title>"
            f"<p>{html.escape(esc.group_key)} — status {html.escape(esc.status)}"
            f", stage {html.escape(esc.stage_label)}</p>"
            f'<form method="post"><input type="hidden" name="t" '
            f'value="{html.escape(request.query.get("t", ""))}">'
            '<button type="submit">Acknowledge</button></form>'
        )
        return web.Response(status=200, text=page, content_type="text/html")

    async def post_ack_link(self, request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except ValueError:
            return _error(400, "the body must be a form")
        presented = form.get("t") or request.query.get("t", "")
        esc = self._linked(request, str(presented))
        if isinstance(esc, web.Response):
            return esc
        try:
            await self.engine.acknowledge(esc, "ack link")
        except EscalationError as exc:
            return _error(409, str(exc))
        except StateWriteError as exc:
            return _error(503, f"the acknowledgement could not be stored: {exc}")
        return web.Response(
            status=200, text="<!doctype html><p>Acknowledged.</p>", content_type="text/html"
        )

    def _linked(self, request: web.Request, presented: str) -> Escalation | web.Response:
        ident = request.match_info["id"]
        if self.links is None:
            return _error(404, "acknowledge links are not enabled")
        if not presented or not self.links.check(ident, presented):
            return _error(403, "this link is not valid")
        esc = self.engine.escalations.by_id(ident)
        if esc is None:
            return _error(404, "this escalation is over")
        return esc

    # -- ingest ---------------------------------------------------------------------------

    async def post_alertmanager(self, request: web.Request) -> web.Response:
        try:
            body = await self._json(request)
            good, bad = ingest.from_alertmanager(body, self.engine.now_ms())
        except _Reject as exc:
            return _error(exc.status, exc.reason)
        except ingest.IngestError as exc:
            return _error(400, str(exc))
        encoded: list[tuple[str, bytes]] = []
        for record in good:
            try:
                encoded.append((record["fingerprint"], self.codec.encode("Alert", record)))
            except ValueError as exc:
                bad.append((-1, f"{record['fingerprint']}: {exc}"))
        alerts = body["alerts"]
        try:
            await asyncio.gather(
                *(
                    self.publish(self.topic("alerts"), fp.encode(), value, None)
                    for fp, value in encoded
                )
            )
            for index, reason in bad:
                raw = json.dumps(alerts[index] if index >= 0 else reason, default=str)
                await self.dead_letter(raw.encode(), ValueError(reason), "invalid_alert")
        except Exception as exc:
            # Alertmanager retries a 5xx: nothing is lost, at worst published twice (the
            # same state of the same fingerprint, which routing takes as one).
            log.error("alerts from Alertmanager not published", extra={"error": str(exc)})
            return _error(503, "the alerts could not be published; retry")
        metrics.INGESTED.labels("published").inc(len(encoded))
        metrics.INGESTED.labels("dead_lettered").inc(len(bad))
        return _json(
            200,
            {
                "accepted": len(encoded),
                "dead_lettered": [{"index": i, "reason": r} for i, r in bad],
            },
        )


class _Reject(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _json(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body, default=str), content_type="application/json"
    )


def _error(status: int, reason: str) -> web.Response:
    return error_response(status, reason, "watchkeeper-router")


def _count(endpoint: str, status: int) -> None:
    metrics.API_REQUESTS.labels(endpoint, str(status)).inc()


__all__ = ["Api"]
