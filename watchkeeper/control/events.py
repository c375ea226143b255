"""What the control plane records: events (one accepted change to one entity, with who made
it) and entities (the fold of their events).

An event's ``seq`` is the entity's version after it: the first event of an entity has
seq 1, and a command that expects version N is refused once the entity is past N. Events
travel as JSON (like the router's state topics): the ``data`` of each entity kind belongs
to the service that owns it, and JSON keeps the control topics readable with any client.

>>> audit = Audit(actor="alice", at_ms=1_700_000_000_000, source="10.0.0.7",
...               command="models.create", idempotency_key="k-1")
>>> event = Event("model", "fraud", 1, "model.created", {"owner_team": "risk"}, audit)
>>> Event.from_json(event.to_json()) == event
True
>>> event.entity_id
'model:fraud'
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson


class EventError(ValueError):
    """A record on a control topic that is not an event of ours."""


# NamedTuples, not dataclasses: a restart makes three of them per event of the history,
# and a tuple is made several times faster (immutable all the same).


class Audit(NamedTuple):
    """Who did it, when, from where, with which command and idempotency key, and why."""

    actor: str
    at_ms: int
    source: str
    command: str
    idempotency_key: str
    reason: str = ""


class Answer(NamedTuple):
    """What the command that produced an event answered (kept on its last event, so a
    retry with the same idempotency key gets it again after a restart)."""

    status: int
    body: Any
    fingerprint: str = ""  # of the request: the same key with another request is refused


class Event(NamedTuple):
    kind: str
    key: str
    seq: int
    type: str
    data: dict[str, Any]
    audit: Audit
    answer: Answer | None = None

    @property
    def entity_id(self) -> str:
        return f"{self.kind}:{self.key}"

    def to_json(self) -> bytes:
        doc = {
            **self._asdict(),
            "audit": self.audit._asdict(),
            "answer": self.answer._asdict() if self.answer is not None else None,
        }
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, raw: bytes) -> Event:
        # orjson: a restart parses the whole history, and the stdlib's parser was most of it.
        try:
            doc = orjson.loads(raw)
            answer = doc.get("answer")
            data = doc["data"]
            if not isinstance(data, dict):
                raise TypeError("data is not an object")
            return cls(
                doc["kind"],
                doc["key"],
                int(doc["seq"]),
                doc["type"],
                data,
                Audit(**doc["audit"]),
                Answer(**answer) if answer else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EventError(f"not a control event: {exc}") from exc


class Entity(NamedTuple):
    """The current state of one entity: its data and how many events made it."""

    kind: str
    key: str
    version: int
    data: dict[str, Any]
    updated_ms: int = 0

    @property
    def deleted(self) -> bool:
        return bool(self.data.get("deleted"))

    def to_json(self) -> bytes:
        return orjson.dumps(self._asdict(), option=orjson.OPT_SORT_KEYS)

    def view(self) -> dict[str, Any]:
        """The entity as the API shows it: its data, its version and when it changed."""
        return {**self.data, "entity_version": self.version, "updated_ms": self.updated_ms}
