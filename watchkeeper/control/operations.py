"""An API operation: a method and path, the scope it needs, the JSON schema of its body,
and its handler. Handlers get a :class:`Call` and return a :class:`Reply` (or raise
:class:`~watchkeeper.control.commands.Rejected`); they see neither aiohttp nor Kafka.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..auth import Token
from .commands import Command


@dataclass(frozen=True)
class Call:
    """One request, validated: URL parameters, query, body, caller and write headers."""

    params: Mapping[str, str]
    query: Mapping[str, list[str]]  # every value of each query parameter
    body: Any
    token: Token | None
    source: str
    at_ms: int
    idempotency_key: str = ""
    expected_version: int | None = None
    bearer: str = ""  # an operation open to all (scope None) checks its own token here

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def many(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def flag(self, name: str) -> bool:
        return (self.one(name) or "").lower() in ("1", "true", "yes")

    @property
    def actor(self) -> str:
        return self.token.name if self.token else "anonymous"

    def command(self, name: str, body: dict[str, Any] | None = None) -> Command:
        return Command(
            name=name,
            body=self.body if body is None else body,
            actor=self.actor,
            idempotency_key=self.idempotency_key,
            source=self.source,
            expected_version=self.expected_version,
            at_ms=self.at_ms,
            path=dict(self.params),
            admin=bool(self.token and self.token.allows("admin")),
        )


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # aiohttp's form: /api/v1/models/{name}
    scope: str | None  # None: anyone may call it
    summary: str
    handler: Handler
    body: dict[str, Any] | None = None  # the JSON schema the body must match
    query: tuple[str, ...] = ()
    write: bool = False  # a command: Idempotency-Key required, If-Match honoured
    raw: bool = False  # a JSON body checked by the handler itself (a foreign spec's)
    status: int = 200
    answer: dict[str, Any] | None = None  # the JSON schema of the answer, for the document
    tag: str = ""

    @property
    def operation_id(self) -> str:
        """A stable name for generated clients.

        >>> async def h(call): ...
        >>> Operation("PUT", "/api/v1/models/{name}/aliases/{alias}", "write", "", h).operation_id
        'put_models_name_aliases_alias'
        """
        words = re.sub(r"[{}]", "", self.path.removeprefix("/api/v1/")).replace("/", "_")
        return f"{self.method.lower()}_{re.sub(r'[^A-Za-z0-9_]', '_', words)}"


def submits(service: Any, name: str) -> Handler:
    """The handler of a plain write: the call as command ``name`` to ``service`` (a
    ControlService), answered with what the command answered."""

    async def write(call: Call) -> Reply:
        answer = await service.submit(call.command(name))
        return Reply(answer.status, answer.body)

    return write
