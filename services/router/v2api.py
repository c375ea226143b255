"""Alertmanager's v2 API on the router's port: Prometheus posts its alerts here, and
``amtool`` lists, adds and expires silences and lists alerts. Another door to the same
state: an alert posted here goes onto the ``alerts`` topic like any other; a silence lives
on the ``silences`` topic beside those of ``/api/v1/silences``.

=======  ==========================  ======  ============================================
method   path                        scope   what
=======  ==========================  ======  ============================================
POST     /api/v2/alerts              ingest  postableAlerts (Prometheus, every evaluation)
GET      /api/v2/alerts              read    gettableAlerts; filter, active, silenced,
                                             inhibited
GET      /api/v2/silences            read    gettableSilences; filter
POST     /api/v2/silences            admin   postableSilence (with id: update);
                                             ``{"silenceID": id}``
GET      /api/v2/silence/{id}        read    one gettableSilence, or 404
DELETE   /api/v2/silence/{id}        admin   expire
GET      /api/v2/status              read    cluster, versionInfo, config, uptime
GET      /api/v2/receivers           read    the routing file's receivers
=======  ==========================  ======  ============================================

Refusals carry their reason as a JSON string, the body Alertmanager's own API gives (what
amtool prints); the token checks in front of them answer as the rest of the router's API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

import watchkeeper

from . import amv2, metrics
from .amv2 import V2Error
from .engine import StateWriteError
from .silences import SilenceError

if TYPE_CHECKING:
    from .api import Api

log = logging.getLogger(__name__)
_ORIGIN = "/api/v2/alerts"


class V2Api:
    def __init__(self, api: Api, token_name: Any) -> None:
        self.api = api
        self.engine = api.engine
        self._token_name = token_name  # request -> the caller's token name
        self._started_ms = api.engine.now_ms()

    def routes(self) -> list[tuple[str, str, str, Any]]:
        return [
            ("POST", "/api/v2/alerts", "ingest", self.post_alerts),
            ("GET", "/api/v2/alerts", "read", self.get_alerts),
            ("GET", "/api/v2/silences", "read", self.get_silences),
            ("POST", "/api/v2/silences", "admin", self.post_silence),
            ("GET", "/api/v2/silence/{id}", "read", self.get_silence),
            ("DELETE", "/api/v2/silence/{id}", "admin", self.delete_silence),
            ("GET", "/api/v2/status", "read", self.get_status),
            ("GET", "/api/v2/receivers", "read", self.get_receivers),
        ]

    # -- alerts ---------------------------------------------------------------------------

    async def post_alerts(self, request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            good, bad = amv2.from_postable(body, self.engine.now_ms())
        except V2Error as exc:
            return _refuse(400, str(exc))
        codec = self.api.codec
        encoded = []
        for record in good:
            try:
                encoded.append((record["fingerprint"], codec.encode("Alert", record)))
            except ValueError as exc:
                bad.append((-1, f"{record['fingerprint']}: {exc}"))
        try:
            topic = self.api.topic("alerts")
            await asyncio.gather(
                *(self.api.publish(topic, fp.encode(), value, None) for fp, value in encoded)
            )
            for index, reason in bad:
                raw = json.dumps(body[index] if index >= 0 else reason, default=str)
                await self.api.dead_letter(
                    raw.encode(), ValueError(reason), "invalid_alert", _ORIGIN
                )
        except Exception as exc:
            # Prometheus retries a failed send: at worst the same state published twice.
            log.error("alerts from Prometheus not published", extra={"error": str(exc)})
            return _refuse(503, "the alerts could not be published; retry")
        metrics.INGESTED.labels("published").inc(len(encoded))
        metrics.INGESTED.labels("dead_lettered").inc(len(bad))
        if bad:
            # As Alertmanager: the sound alerts are taken, the answer names the others
            # (which are on the dead-letter topic, not dropped).
            return _refuse(400, "; ".join(reason for _, reason in bad))
        return web.Response(status=200)

    async def get_alerts(self, request: web.Request) -> web.Response:
        try:
            matchers = amv2.parse_filter(request.query.getall("filter", []))
            receiver = request.query.get("receiver")
            query = request.query
            views = [v for v in self._alert_views() if amv2.alert_wanted(v, matchers, query)]
        except V2Error as exc:
            return _refuse(400, str(exc))
        if receiver:
            # A regular expression, anchored, as Alertmanager reads it.
            try:
                wanted = re.compile(receiver)
            except re.error as exc:
                return _refuse(400, f"receiver: bad regular expression: {exc}")
            views = [v for v in views if any(wanted.fullmatch(r["name"]) for r in v["receivers"])]
        return _json(200, views)

    def _alert_views(self) -> list[dict]:
        engine = self.engine
        now_ms = engine.now_ms()
        receivers: dict[str, set[str]] = {}
        for group in engine.dispatcher.groups.values():
            for fingerprint in group.alerts:
                receivers.setdefault(fingerprint, set()).add(group.route.opts.receiver)
        return [
            amv2.gettable_alert(alert, engine.muting.muted_by(alert, now_ms), receivers.get(fp, ()))
            for fp, alert in sorted(engine.alerts.items())
        ]

    # -- silences -------------------------------------------------------------------------

    async def get_silences(self, request: web.Request) -> web.Response:
        try:
            matchers = amv2.parse_filter(request.query.getall("filter", []))
        except V2Error as exc:
            return _refuse(400, str(exc))
        now = self.engine.now_ms()
        found = [s for s in self.engine.silences.all() if amv2.silence_matches_filter(s, matchers)]
        found.sort(key=lambda s: amv2.silence_order(s, now))
        return _json(200, [amv2.gettable_silence(s, now) for s in found])

    async def get_silence(self, request: web.Request) -> web.Response:
        silence = self.engine.silences.get(_silence_id(request))
        if silence is None:
            return _refuse(404, "silence not found")
        return _json(200, amv2.gettable_silence(silence, self.engine.now_ms()))

    async def post_silence(self, request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            if not isinstance(body, dict):
                raise V2Error("the body must be a JSON object (postableSilence)")
            matchers = amv2.matchers_from_v2(body.get("matchers"))
            starts = amv2.parse_time(body.get("startsAt"), "startsAt")
            ends = amv2.parse_time(body.get("endsAt"), "endsAt")
            if starts is None or ends is None:
                raise V2Error("startsAt and endsAt are required (RFC 3339)")
            comment, author = body.get("comment"), body.get("createdBy")
            if not isinstance(comment, str) or not comment.strip():
                raise V2Error("a silence needs a comment: why")
            if not isinstance(author, str) or not author.strip():
                raise V2Error("createdBy is required")
            by = self._author(request, author.strip())
            silence_id = body.get("id")
            if silence_id:
                if not isinstance(silence_id, str):
                    raise V2Error("id must be a string")
                silence = await self.engine.update_silence(
                    _normal(silence_id), matchers, starts, ends, by, comment.strip()
                )
            else:
                silence = await self.engine.create_silence(
                    matchers, starts, ends, by, comment.strip()
                )
        except KeyError:
            return _refuse(404, "silence not found")
        except (V2Error, SilenceError, ValueError) as exc:
            return _refuse(400, str(exc))
        except StateWriteError as exc:
            return _refuse(503, f"the silence could not be stored: {exc}")
        return _json(200, {"silenceID": silence.id})

    async def delete_silence(self, request: web.Request) -> web.Response:
        try:
            await self.engine.expire_silence(_silence_id(request), self._token_name(request))
        except KeyError:
            return _refuse(404, "silence not found")
        except SilenceError as exc:
            # Alertmanager answers an expired silence's expiry with 500; a 409 says why.
            return _refuse(409, str(exc))
        except StateWriteError as exc:
            return _refuse(503, f"the change could not be stored: {exc}")
        return web.Response(status=200)

    def _author(self, request: web.Request, author: str) -> str:
        """Who the silence says made it; the token that did is kept beside, for the record."""
        token = self._token_name(request)
        return author if author == token else f"{author} (token {token})"

    # -- status ---------------------------------------------------------------------------

    async def get_status(self, request: web.Request) -> web.Response:
        routing = self.engine.routing
        return _json(
            200,
            {
                # One router, no gossip: Alertmanager reports a single node as "disabled".
                "cluster": {"status": "disabled", "peers": []},
                "versionInfo": {
                    "version": watchkeeper.__version__,
                    "revision": "",
                    "branch": "",
                    "buildUser": "",
                    "buildDate": "",
                    "goVersion": "none (watchkeeper router, Python)",
                },
                # The routing file's own text may hold credentials: name it, not show it.
                "config": {
                    "original": f"# watchkeeper router; routing file: {routing.path}\n"
                    f"# receivers: {', '.join(sorted(routing.receivers))}\n"
                },
                "uptime": amv2.rfc3339(self._started_ms),
            },
        )

    async def get_receivers(self, request: web.Request) -> web.Response:
        return _json(200, [{"name": name} for name in sorted(self.engine.routing.receivers)])


async def _body(request: web.Request) -> Any:
    # Prometheus and amtool both send application/json; anything else is a wrong client.
    if request.content_type != "application/json":
        raise V2Error("the body must be application/json")
    try:
        return json.loads(await request.read())
    except ValueError as exc:
        raise V2Error(f"the body is not valid JSON: {exc}") from None


def _silence_id(request: web.Request) -> str:
    return _normal(request.match_info["id"])


def _normal(silence_id: str) -> str:
    """Our ids are UUIDs without dashes; a client that adds them finds the same silence."""
    return silence_id.strip().replace("-", "").lower()


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _refuse(status: int, reason: str) -> web.Response:
    return _json(status, reason)
