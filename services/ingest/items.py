"""Each event of a batch against its topic's Avro contract, on its own: an ``Accepted``
(encoded, keyed by the model as the SDK keys it) or a ``Rejected`` naming the field, the
reason and a short code (the metric's label).

``event_id`` (a uuid4) and ``event_time_ms`` (now, from the injected clock) are filled in
when absent or null, as the SDK does; an id the caller sent is kept, so a retried batch
carries the same ids and its duplicates can be told apart.

>>> from watchkeeper.codec import Codec
>>> check = Checker(Codec(), now_ms=lambda: 1767225600000, new_id=lambda: "id-1")
>>> ok = check(0, {"model": "fraud", "version": "3", "latency_ms": 12.5}, "predictions")
>>> ok.topic, ok.key, ok.event_id, len(ok.value)
('predictions', b'fraud', 'id-1', 62)
>>> check(1, {"model": "fraud", "version": "3", "latency_ms": "fast"}, "predictions")
Rejected(index=1, field='latency_ms', reason="expected double, got str 'fast'", code='wrong_type')
>>> check(2, {"event_id": "p-1", "label": "fraud"}, "feedback")
Rejected(index=2, field='model', reason='required field is missing', code='missing_field')
>>> check(3, {"model": "fraud"}, None).reason
'no topic: give "topic" in the body or in the event (predictions, feedback, telemetry)'
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watchkeeper.codec import Codec

from .scopes import TOPICS

MAX_REASON = 300  # a reason quotes the value it refused: a 1 MiB string is not echoed back


@dataclass(frozen=True)
class Accepted:
    index: int
    topic: str
    key: bytes
    value: bytes
    event_id: str


@dataclass(frozen=True)
class Rejected:
    index: int
    field: str | None
    reason: str
    code: str


def topic_of(item: Any, default: str | None) -> str | None:
    """The topic an item goes to (its own ``"topic"`` wins; null is as absent), None when
    it names none."""
    if isinstance(item, dict) and item.get("topic") is not None:
        return item["topic"] if isinstance(item["topic"], str) else repr(item["topic"])
    return default


def _uuid() -> str:
    return str(uuid.uuid4())


class Checker:
    def __init__(
        self,
        codec: Codec,
        now_ms: Callable[[], int],
        new_id: Callable[[], str] = _uuid,
    ) -> None:
        self.codec = codec
        self.now_ms = now_ms
        self.new_id = new_id

    def __call__(self, index: int, item: Any, default_topic: str | None) -> Accepted | Rejected:
        if not isinstance(item, dict):
            kind = "null" if item is None else type(item).__name__
            return Rejected(index, None, f"an event is a JSON object, not {kind}", "not_an_object")
        topic = topic_of(item, default_topic)
        if topic is None:
            known = ", ".join(TOPICS)
            reason = f'no topic: give "topic" in the body or in the event ({known})'
            return Rejected(index, "topic", reason, "unknown_topic")
        if topic not in TOPICS:
            reason = f"unknown topic {topic[:60]!r}; use {', '.join(TOPICS)}"
            return Rejected(index, "topic", reason, "unknown_topic")
        record = {k: v for k, v in item.items() if k != "topic"}
        if record.get("event_id") is None:
            record["event_id"] = self.new_id()
        if record.get("event_time_ms") is None:
            record["event_time_ms"] = self.now_ms()
        try:
            value = self.codec.encode(TOPICS[topic], record)
        except ValueError as exc:
            field, reason = _split(str(exc))
            field = field[:MAX_REASON] if field is not None else None  # a 1 MiB key, say
            return Rejected(index, field, reason[:MAX_REASON], _code(reason))
        # The codec checked model is a non-empty string: the key the SDK uses.
        return Accepted(index, topic, record["model"].encode(), value, record["event_id"])


def _split(message: str) -> tuple[str | None, str]:
    """``'PredictionEvent.latency_ms: must be >= 0'`` -> ``('latency_ms', 'must be >= 0')``."""
    where, sep, reason = message.partition(": ")
    if not sep:
        return None, message
    schema, dot, field = where.partition(".")
    if not dot or " " in schema:  # 'PredictionEvent v1: cannot encode: ...'
        return None, reason
    return field, reason


def _code(reason: str) -> str:
    if reason.startswith("required field is missing"):
        return "missing_field"
    if reason.startswith("unknown field"):
        return "unknown_field"
    if reason.startswith(("expected ", "cannot encode")):
        return "wrong_type"
    return "invalid"  # a constraint: empty, negative, out of range, not finite
