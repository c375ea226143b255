"""Silences: matchers and a time window during which matching alerts are not notified.

As Alertmanager's: a silence has an id, matchers, ``starts``/``ends``, who created it and
why. It is *pending* before it starts, *active* inside its window, *expired* after;
"expire" through the API ends an active silence now (a pending one is cut to nothing).
Silences live on the compacted ``silences`` topic, one record per id (JSON), so that a
restarted router and any other reader see the same set; an expired silence is kept for
``retention`` (for the record, and the API lists it), then a tombstone removes it.

>>> from services.router.matchers import parse_matchers
>>> book = SilenceBook()
>>> s = book.create(parse_matchers('model="fraud"'), 1000, 2000, "alice", "deploy", now_ms=500)
>>> s.state(500), s.state(1000), s.state(2000)
('pending', 'active', 'expired')
>>> book.silenced_by({"model": "fraud", "alertname": "Drift"}, now_ms=1500) == [s.id]
True
>>> book.expire(s.id, now_ms=1600).ends_ms
1600
>>> book.silenced_by({"model": "fraud"}, now_ms=1700)
[]
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from .matchers import Matcher, MatcherError, matches_all, parse_matchers

FORMAT_VERSION = 1
DEFAULT_RETENTION_S = 5 * 24 * 3600  # as Alertmanager's --data.retention (120 h)


class SilenceError(ValueError):
    """A silence that cannot be created, or a record that cannot be read."""


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_ms: int
    ends_ms: int
    created_by: str
    comment: str
    updated_ms: int

    def state(self, now_ms: int) -> str:
        if now_ms < self.starts_ms:
            return "pending"
        return "active" if now_ms < self.ends_ms else "expired"

    def to_json(self, now_ms: int | None = None) -> dict:
        body = {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts_ms": self.starts_ms,
            "ends_ms": self.ends_ms,
            "created_by": self.created_by,
            "comment": self.comment,
            "updated_ms": self.updated_ms,
        }
        if now_ms is not None:
            body["state"] = self.state(now_ms)
        return body


def validate(matchers: Iterable[Matcher], starts_ms: int, ends_ms: int, now_ms: int) -> None:
    matchers = list(matchers)
    if not matchers:
        raise SilenceError("a silence needs at least one matcher")
    # As Alertmanager: a silence whose every matcher also matches a missing label would
    # silence every alert there is; that is never what someone meant.
    if all(m.matches({}) for m in matchers):
        raise SilenceError("at least one matcher must not match the empty string")
    if ends_ms <= starts_ms:
        raise SilenceError("ends must be after starts")
    if ends_ms <= now_ms:
        raise SilenceError("ends must be in the future")


class SilenceBook:
    """Every known silence, by id."""

    def __init__(self, retention_s: float = DEFAULT_RETENTION_S) -> None:
        self.retention_ms = int(retention_s * 1000)
        self._silences: dict[str, Silence] = {}

    def __len__(self) -> int:
        return len(self._silences)

    def get(self, silence_id: str) -> Silence | None:
        return self._silences.get(silence_id)

    def all(self) -> list[Silence]:
        return sorted(self._silences.values(), key=lambda s: (s.starts_ms, s.id))

    def create(
        self,
        matchers: Iterable[Matcher],
        starts_ms: int,
        ends_ms: int,
        created_by: str,
        comment: str,
        now_ms: int,
    ) -> Silence:
        matchers = tuple(matchers)
        validate(matchers, starts_ms, ends_ms, now_ms)
        silence = Silence(
            uuid.uuid4().hex, matchers, starts_ms, ends_ms, created_by, comment, now_ms
        )
        self._silences[silence.id] = silence
        return silence

    def expire(self, silence_id: str, now_ms: int) -> Silence:
        silence = self._silences.get(silence_id)
        if silence is None:
            raise KeyError(silence_id)
        if silence.state(now_ms) == "expired":
            raise SilenceError(f"silence {silence_id} has already expired")
        ends = now_ms
        starts = min(silence.starts_ms, now_ms)
        silence = replace(silence, starts_ms=starts, ends_ms=ends, updated_ms=now_ms)
        self._silences[silence_id] = silence
        return silence

    def update(
        self,
        silence_id: str,
        matchers: Iterable[Matcher],
        starts_ms: int,
        ends_ms: int,
        created_by: str,
        comment: str,
        now_ms: int,
    ) -> tuple[Silence, str | None]:
        """Alertmanager's update: in place when only the end, comment or author change
        (and a pending silence's start), otherwise the old one expires and a new id
        replaces it. The silence now, and the id expired by the change if any.

        >>> from services.router.matchers import parse_matchers
        >>> book = SilenceBook()
        >>> s = book.create(parse_matchers("a=1"), 1000, 2000, "al", "x", now_ms=1000)
        >>> same, gone = book.update(s.id, s.matchers, 1000, 3000, "al", "y", now_ms=1500)
        >>> same.id == s.id, same.ends_ms, gone
        (True, 3000, None)
        >>> new, gone = book.update(s.id, parse_matchers("a=2"), 1500, 3000, "al", "z", 1500)
        >>> new.id != s.id, gone == s.id, book.get(s.id).state(1500)
        (True, True, 'expired')
        """
        old = self._silences.get(silence_id)
        if old is None:
            raise KeyError(silence_id)
        matchers = tuple(matchers)
        if _can_update(old, matchers, starts_ms, ends_ms, now_ms):
            validate(matchers, starts_ms, ends_ms, now_ms)
            silence = replace(
                old,
                starts_ms=starts_ms,
                ends_ms=ends_ms,
                created_by=created_by,
                comment=comment,
                updated_ms=now_ms,
            )
            self._silences[silence_id] = silence
            return silence, None
        validate(matchers, starts_ms, ends_ms, now_ms)
        expired = None
        if old.state(now_ms) != "expired":
            self.expire(silence_id, now_ms)
            expired = silence_id
        return self.create(matchers, starts_ms, ends_ms, created_by, comment, now_ms), expired

    def silenced_by(self, labels: Mapping[str, str], now_ms: int) -> list[str]:
        return [
            s.id
            for s in self._silences.values()
            if s.state(now_ms) == "active" and matches_all(s.matchers, labels)
        ]

    def purge(self, now_ms: int) -> list[str]:
        """Forget silences expired for longer than the retention; their ids (to tombstone)."""
        old = [s.id for s in self._silences.values() if s.ends_ms + self.retention_ms <= now_ms]
        for silence_id in old:
            del self._silences[silence_id]
        return old

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Replay one record of the topic."""
        silence_id = (key or b"").decode(errors="replace")
        if value is None:
            self._silences.pop(silence_id, None)
            return
        silence = decode(value)
        if silence.id != silence_id:
            raise SilenceError(f"record key {silence_id!r} does not match its silence")
        self._silences[silence_id] = silence

    def record(self, silence_id: str) -> tuple[bytes, bytes | None]:
        """The topic record for a silence as it is now (a tombstone once forgotten)."""
        silence = self._silences.get(silence_id)
        return silence_id.encode(), None if silence is None else encode(silence)


def encode(silence: Silence) -> bytes:
    return json.dumps({"v": FORMAT_VERSION, **silence.to_json()}, separators=(",", ":")).encode()


def decode(value: bytes) -> Silence:
    try:
        raw = json.loads(value)
        if raw.get("v") != FORMAT_VERSION:
            raise SilenceError(f"format version {raw.get('v')!r}, expected {FORMAT_VERSION}")
        matchers: list[Matcher] = []
        for text in raw["matchers"]:
            matchers.extend(parse_matchers(text))
        return Silence(
            id=str(raw["id"]),
            matchers=tuple(matchers),
            starts_ms=int(raw["starts_ms"]),
            ends_ms=int(raw["ends_ms"]),
            created_by=str(raw["created_by"]),
            comment=str(raw["comment"]),
            updated_ms=int(raw["updated_ms"]),
        )
    except SilenceError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, MatcherError) as exc:
        raise SilenceError(f"unreadable silence: {type(exc).__name__}: {exc}") from None


def _can_update(old: Silence, matchers: tuple, starts_ms: int, ends_ms: int, now_ms: int) -> bool:
    """Alertmanager's ``canUpdate``: same matchers, and the change keeps the past intact."""
    if sorted(map(str, old.matchers)) != sorted(map(str, matchers)):
        return False
    state = old.state(now_ms)
    if state == "active":
        return starts_ms == old.starts_ms and ends_ms >= now_ms
    if state == "pending":
        return starts_ms >= now_ms
    return False
