"""HTTP refusals as every watchkeeper API answers them: ``{"error": reason}`` with the
status, and one aiohttp middleware turning what aiohttp raises (413, 404, 405) and what a
handler did not expect (500, logged) into that shape, counting each answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


def error_response(status: int, reason: str, realm: str = "watchkeeper") -> web.Response:
    headers = {"WWW-Authenticate": f'Bearer realm="{realm}"'} if status == 401 else None
    return web.json_response({"error": reason}, status=status, headers=headers)


def error_middleware(max_body: int, count: Callable[[str, int], None]) -> Any:
    """``count(endpoint, status)`` hears of every answer (for the request counter)."""

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        resource = request.match_info.route.resource
        endpoint = resource.canonical if resource else "unknown"
        try:
            response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            response = error_response(413, f"the body is larger than {max_body} bytes")
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            reasons = {404: "no such endpoint", 405: f"method {request.method} not allowed"}
            response = error_response(exc.status, reasons.get(exc.status, exc.reason))
        except Exception:
            log.exception("API request failed", extra={"endpoint": endpoint})
            response = error_response(500, "internal error (logged)")
        count(endpoint, response.status)
        return response

    return errors
