"""The control plane's state: the fold of its events, with the idempotency table, and the
overlay that decides a batch of commands before any of them is written.

A writer takes the commands waiting, decides each on an :class:`Overlay` (which sees the
committed state plus what earlier commands of the batch did), writes the overlay's events
in one Kafka transaction, and only then merges the overlay into the :class:`Store`. A
failed write throws the overlay away: the committed state never holds what Kafka lacks.

>>> from watchkeeper.control.commands import Command, Decision, Rejected
>>> class Counters:
...     def decide(self, view, command):
...         entity = view.expect("counter", command.path["name"], command.expected_version)
...         if command.name == "create" and entity is not None:
...             raise Rejected(409, "it exists")
...         name = command.path["name"]
...         decision = Decision(201, {"name": name})
...         decision.add("counter", name, "counter.added", {"by": command.body["by"]})
...         return decision
...     def fold(self, entity, event):
...         return {"value": (entity.data["value"] if entity else 0) + event.data["by"]}
>>> store = Store(Counters())
>>> batch = store.overlay()
>>> ask = lambda key, by, expected=None: Command("add", {"by": by}, "alice", key,
...                                              path={"name": "c"}, expected_version=expected)
>>> batch.submit(ask("k1", 2)).status, batch.submit(ask("k2", 3)).status
(201, 201)
>>> store.get("counter", "c") is None            # nothing committed yet
True
>>> store.merge(batch); store.get("counter", "c").data, store.get("counter", "c").version
({'value': 5}, 2)
>>> again = store.overlay()
>>> again.submit(ask("k1", 2)).status, again.events    # a retry: its first answer, no event
(201, [])
>>> again.submit(ask("k3", 1, expected=1))
Traceback (most recent call last):
...
watchkeeper.control.commands.Rejected: counter c is at version 2, not 1
>>> again.submit(ask("k1", 7))
Traceback (most recent call last):
...
watchkeeper.control.commands.Rejected: the Idempotency-Key k1 was used for another request
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .commands import Command, Decision, Rejected, answer_of
from .events import Answer, Entity, Event

Key = tuple[str, str]


class Domain(Protocol):
    def decide(self, view: View, command: Command) -> Decision: ...

    def fold(self, entity: Entity | None, event: Event) -> dict[str, Any]: ...


class View:
    """Read access for deciding: an entity by kind and key, and version checks."""

    def get(self, kind: str, key: str) -> Entity | None:
        raise NotImplementedError

    def expect(self, kind: str, key: str, expected: int | None) -> Entity | None:
        """The entity, after checking the version the caller expects (409 when stale)."""
        entity = self.get(kind, key)
        if expected is None:
            return entity
        have = entity.version if entity else 0
        if have != expected:
            raise Rejected(409, f"{kind} {key} is at version {have}, not {expected}")
        return entity


class Store(View):
    def __init__(self, domain: Domain, on_commit: Callable[[Event, Entity], None] | None = None):
        self.domain = domain
        self.entities: dict[Key, Entity] = {}
        self.history: dict[Key, list[Event]] = {}
        self.answers: dict[str, Answer] = {}
        self.events = 0
        self._on_commit = on_commit

    def get(self, kind: str, key: str) -> Entity | None:
        return self.entities.get((kind, key))

    def replay(self, event: Event) -> None:
        """Apply one committed event (at start, from the history topic)."""
        entity = fold(self.domain, self.get(event.kind, event.key), event)
        self._commit(event, entity)

    def overlay(self) -> Overlay:
        return Overlay(self)

    def merge(self, overlay: Overlay) -> None:
        for event, entity in overlay.folded:
            self._commit(event, entity)

    def _commit(self, event: Event, entity: Entity) -> None:
        key = (event.kind, event.key)
        self.entities[key] = entity
        self.history.setdefault(key, []).append(event)
        if event.answer is not None:
            self.answers[event.audit.idempotency_key] = event.answer
        self.events += 1
        if self._on_commit is not None:
            self._on_commit(event, entity)

    def dump(self) -> dict[str, Any]:
        """Everything, in a stable order: two stores holding the same events dump equal."""
        return {
            "entities": {f"{k}:{key}": e.view() for (k, key), e in sorted(self.entities.items())},
            "answers": {k: [a.status, a.fingerprint] for k, a in sorted(self.answers.items())},
            "events": self.events,
        }


class Overlay(View):
    """A batch of decisions on top of the committed store, not yet written."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.changed: dict[Key, Entity] = {}
        self.answers: dict[str, Answer] = {}
        self.folded: list[tuple[Event, Entity]] = []

    @property
    def events(self) -> list[Event]:
        return [event for event, _ in self.folded]

    def get(self, kind: str, key: str) -> Entity | None:
        return self.changed.get((kind, key)) or self.store.get(kind, key)

    def answered(self, command: Command) -> Answer | None:
        key = command.idempotency_key
        first = self.answers.get(key) or self.store.answers.get(key)
        if first is not None and first.fingerprint != command.fingerprint:
            raise Rejected(422, f"the Idempotency-Key {key} was used for another request")
        return first

    def submit(self, command: Command) -> Answer:
        """Decide ``command`` (or return its first answer); raises :class:`Rejected`."""
        first = self.answered(command)
        if first is not None:
            return first
        decision = self.store.domain.decide(self, command)
        answer = answer_of(command, decision)
        for number, (kind, key, type_, data, reason) in enumerate(decision.events, 1):
            before = self.get(kind, key)
            last = number == len(decision.events)
            event = Event(
                kind,
                key,
                (before.version if before else 0) + 1,
                type_,
                data,
                command.audit(reason),
                answer if last else None,
            )
            entity = fold(self.store.domain, before, event)
            self.changed[(kind, key)] = entity
            self.folded.append((event, entity))
        if decision.events:
            self.answers[command.idempotency_key] = answer
        return answer


def fold(domain: Domain, entity: Entity | None, event: Event) -> Entity:
    return Entity(event.kind, event.key, event.seq, domain.fold(entity, event), event.audit.at_ms)
