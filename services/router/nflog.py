"""The notification log: what each receiver was last told about each group.

As Alertmanager's nflog, one entry per (receiver integration, group key): the firing and
the resolved fingerprints of the last notification that got through, and when. It decides
whether a flush becomes a notification (:func:`needs_update`), and it is what a restarted
router reads back (from the compacted ``notification-log`` topic) to neither forget a
pending notification nor repeat one already delivered.

On the topic, the key is ``[receiver, group_key]`` as JSON and the value the entry as JSON;
a group that fully resolved and was notified gets a tombstone (a null value), so the log
holds only groups a receiver currently believes to be firing.

>>> log = NotificationLog()
>>> key, value = log.log(Entry("oncall/webhook/0", "{}:{}", frozenset({"a"}), frozenset(),
...                            1767225600000, "k1"))
>>> key
b'["oncall/webhook/0", "{}:{}"]'
>>> other = NotificationLog()
>>> other.apply(key, value)
>>> other.get("oncall/webhook/0", "{}:{}").firing
frozenset({'a'})
>>> log.log(Entry("oncall/webhook/0", "{}:{}", frozenset(), frozenset({"a"}), 1767225660000))[1]
>>> len(log)
0
"""

from __future__ import annotations

import json
from collections.abc import Set
from dataclasses import dataclass

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Entry:
    receiver: str  # the integration: "<receiver name>/<kind>/<index>"
    group_key: str  # the group key, with "#<stream>" for a fallback's own log
    firing: frozenset[str]
    resolved: frozenset[str]
    timestamp_ms: int
    idempotency_key: str | None = None
    flapping: frozenset[str] = frozenset()  # firing alerts the receiver was told flap
    ack: str = ""  # the group's acknowledgement as told: "", "acked" or "closed"


class NotificationLogError(ValueError):
    """A record of the notification-log topic that this version cannot read."""


def needs_update(
    entry: Entry | None,
    firing: Set[str],
    resolved: Set[str],
    *,
    send_resolved: bool,
    repeat_interval_s: float,
    now_s: float,
    flapping: Set[str] = frozenset(),
    ack: str = "",
    tracks_ack: bool = False,
    paged_after_ms: int | None = None,
) -> bool:
    """Alertmanager's dedup rule, and what escalation adds: should this flush become a
    notification?

    Beyond Alertmanager's: an alert newly known to flap is news; a change of the group's
    acknowledgement is news to integrations that have a word for it (PagerDuty ...); an
    escalation page after the last notification (``paged_after_ms``) must reach the
    receiver again; and an acknowledged group is not repeated every ``repeat_interval``.

    >>> needs_update(None, {"a"}, set(), send_resolved=True, repeat_interval_s=60, now_s=0)
    True
    >>> sent = Entry("r", "g", frozenset({"a"}), frozenset(), 0)
    >>> needs_update(sent, {"a"}, set(), send_resolved=True, repeat_interval_s=60, now_s=59)
    False
    >>> needs_update(sent, {"a"}, set(), send_resolved=True, repeat_interval_s=60, now_s=61)
    True
    >>> needs_update(sent, set(), {"a"}, send_resolved=False, repeat_interval_s=60, now_s=1)
    True
    >>> needs_update(sent, {"a"}, set(), send_resolved=True, repeat_interval_s=60, now_s=61,
    ...              ack="acked")
    False
    >>> needs_update(sent, {"a"}, set(), send_resolved=True, repeat_interval_s=60, now_s=1,
    ...              paged_after_ms=500)
    True
    """
    if entry is None:
        # Never notified: only firing alerts are news (a receiver was never told about
        # alerts that fired and resolved before any notification).
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        # Everything resolved. Even without send_resolved this "notifies" (sending
        # nothing) so that the log stops believing the group is firing.
        return bool(entry.firing)
    if not flapping <= entry.flapping:
        return True
    if tracks_ack and ack != entry.ack:
        return True
    if send_resolved and not resolved <= entry.resolved:
        return True
    if paged_after_ms is not None and entry.timestamp_ms < paged_after_ms:
        return True
    if ack:
        return False  # someone is on it: no reminders
    return entry.timestamp_ms / 1000 + repeat_interval_s < now_s


class NotificationLog:
    """The entries in memory; :meth:`log` returns what to write to the topic."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}

    def get(self, receiver: str, group_key: str) -> Entry | None:
        return self._entries.get((receiver, group_key))

    def log(self, entry: Entry) -> tuple[bytes, bytes | None]:
        """Remember ``entry``; a group with nothing firing is forgotten (a tombstone)."""
        ident = (entry.receiver, entry.group_key)
        if entry.firing:
            self._entries[ident] = entry
            return encode_key(*ident), encode_entry(entry)
        self._entries.pop(ident, None)
        return encode_key(*ident), None

    def apply(self, key: bytes, value: bytes | None) -> None:
        """Replay one record of the topic (oldest first)."""
        receiver, group_key = decode_key(key)
        if value is None:
            self._entries.pop((receiver, group_key), None)
            return
        entry = decode_entry(value)
        if (entry.receiver, entry.group_key) != (receiver, group_key):
            raise NotificationLogError(f"key {key!r} does not match its entry")
        self._entries[(receiver, group_key)] = entry

    def __len__(self) -> int:
        return len(self._entries)


def encode_key(receiver: str, group_key: str) -> bytes:
    return json.dumps([receiver, group_key]).encode()


def decode_key(key: bytes | None) -> tuple[str, str]:
    try:
        receiver, group_key = json.loads(key or b"")
    except (ValueError, TypeError) as exc:
        raise NotificationLogError(f"unreadable key {key!r}: {exc}") from None
    if not isinstance(receiver, str) or not isinstance(group_key, str):
        raise NotificationLogError(f"unreadable key {key!r}")
    return receiver, group_key


def encode_entry(entry: Entry) -> bytes:
    return json.dumps(
        {
            "v": FORMAT_VERSION,
            "receiver": entry.receiver,
            "group_key": entry.group_key,
            "firing": sorted(entry.firing),
            "resolved": sorted(entry.resolved),
            "timestamp_ms": entry.timestamp_ms,
            "idempotency_key": entry.idempotency_key,
            "flapping": sorted(entry.flapping),
            "ack": entry.ack,
        },
        separators=(",", ":"),
    ).encode()


def decode_entry(value: bytes) -> Entry:
    try:
        raw = json.loads(value)
        if raw.get("v") != FORMAT_VERSION:
            raise NotificationLogError(f"format version {raw.get('v')!r}, expected 1")
        return Entry(
            receiver=raw["receiver"],
            group_key=raw["group_key"],
            firing=frozenset(raw["firing"]),
            resolved=frozenset(raw["resolved"]),
            timestamp_ms=int(raw["timestamp_ms"]),
            idempotency_key=raw.get("idempotency_key"),
            flapping=frozenset(raw.get("flapping") or ()),
            ack=str(raw.get("ack") or ""),
        )
    except NotificationLogError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise NotificationLogError(f"unreadable entry: {type(exc).__name__}: {exc}") from None
