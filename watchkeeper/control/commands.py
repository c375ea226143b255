"""Commands: what a caller asks the control plane to do, and how it is refused.

A command names what it does (``models.create``), carries its validated body, who asks
and from where, the caller's idempotency key and, optionally, the entity version the
caller last saw (``If-Match``). A domain turns a command into events or refuses it with
a status and a reason (:class:`Rejected`); nothing is written for a refused command.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .events import Answer, Audit


class Rejected(Exception):
    """A refused command: an HTTP status (400, 403, 404, 409, 422) and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Command:
    name: str
    body: dict[str, Any]
    actor: str
    idempotency_key: str
    source: str = ""
    expected_version: int | None = None
    at_ms: int = 0
    path: dict[str, str] = field(default_factory=dict)  # the URL's parameters
    admin: bool = False  # the caller holds the admin scope (may force gated moves)

    @property
    def fingerprint(self) -> str:
        """The request's identity for the idempotency check: a retry must match it.

        >>> a = Command("models.create", {"name": "fraud"}, "alice", "k1")
        >>> a.fingerprint == Command("models.create", {"name": "fraud"}, "bob", "k1").fingerprint
        True
        >>> a.fingerprint == Command("models.create", {"name": "churn"}, "alice", "k1").fingerprint
        False
        """
        doc = [self.name, self.path, self.body, self.expected_version]
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def audit(self, reason: str = "") -> Audit:
        return Audit(
            actor=self.actor,
            at_ms=self.at_ms,
            source=self.source,
            command=self.name,
            idempotency_key=self.idempotency_key,
            reason=reason,
        )


@dataclass
class Decision:
    """What an accepted command does: events to append (in order), and its answer."""

    status: int
    body: Any
    events: list[tuple[str, str, str, dict[str, Any], str]] = field(default_factory=list)

    def add(self, kind: str, key: str, type_: str, data: dict[str, Any], reason: str = "") -> None:
        self.events.append((kind, key, type_, data, reason))


def answer_of(command: Command, decision: Decision) -> Answer:
    return Answer(decision.status, decision.body, command.fingerprint)


class Dispatch:
    """A domain whose command ``models.create`` is decided by its method
    ``_models_create(view, command)``; an unknown command is a 400."""

    def decide(self, view: Any, command: Command) -> Decision:
        handler = getattr(self, "_" + command.name.replace(".", "_"), None)
        if handler is None:
            raise Rejected(400, f"unknown command {command.name!r}")
        return handler(view, command)
