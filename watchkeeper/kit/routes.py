"""HTTP routes a service adds to its one server (beside /metrics and /healthz).

A route is plain Python: a ``Request`` in, a ``Response`` out, so it is tested without a
server and every service's endpoints behave alike (JSON, 4xx with a reason).

>>> route = Route("GET", "/gate/", lambda req: Response(200, {"gate": req.rest}))
>>> route.matches("GET", "/gate/fraud"), route.matches("POST", "/gate/fraud")
(True, False)
>>> route.handle(Request("GET", "/gate/fraud", rest="fraud")).body
{'gate': 'fraud'}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    rest: str = ""  # the path after the route's prefix

    def json(self) -> Any:
        """The body as JSON (``None`` when empty); ValueError when it is not JSON."""
        if not self.body.strip():
            return None
        return json.loads(self.body)


@dataclass(frozen=True)
class Response:
    status: int
    body: Any  # JSON-able, or bytes sent as they are
    content_type: str = "application/json"

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def error(status: int, reason: str) -> Response:
    return Response(status, {"error": reason})


@dataclass(frozen=True)
class Route:
    methods: str | tuple[str, ...]
    prefix: str  # "/gate/" matches /gate/<rest>; "/x" matches exactly /x
    handle: Callable[[Request], Response]

    def matches(self, method: str, path: str) -> bool:
        methods = (self.methods,) if isinstance(self.methods, str) else self.methods
        if method not in methods:
            return False
        return path.startswith(self.prefix) if self.prefix.endswith("/") else path == self.prefix
