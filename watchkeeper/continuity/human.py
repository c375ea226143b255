"""Human fallback: a review request on the ``human-review`` topic, a :class:`Pending`
marker for the caller, and the reviewer's answer later as a FeedbackEvent.

The topic is compacted and keyed by ``review_id``: a request and, later, the record that
says it was answered share the key, so the newest record per key is the review's state
and a reader rebuilds the pending list by reading the topic to its end. The request
carries the prediction's ``event_id``; the answer is emitted as feedback for that id, so
every service joining labels to predictions sees the human's label like any other.

Records are JSON (the control-plane topics' convention), ``v`` their version:

>>> record = request_record("fraud", "3", "e-17", {"amount": 12.5}, "primary: TimeoutError",
...                         at_ms=1_700_000_000_000)
>>> record["review_id"], record["state"]
('fraud-b77c588ef80e9d3b', 'pending')
>>> review_id("fraud", "e-17") == record["review_id"]
True
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

TOPIC = "human-review"
VERSION = 1
Publish = Callable[[str, bytes], None]  # (key, value): must not block the caller


@dataclass(frozen=True, slots=True)
class Pending:
    """No answer yet: a human will give it. ``event_id`` is the prediction's."""

    review_id: str
    event_id: str

    def __bool__(self) -> bool:  # "if result:" reads as "do I have an answer"
        return False


def review_id(model: str, event_id: str) -> str:
    """Stable per prediction: publishing a request again replaces it, never duplicates."""
    digest = blake2b(f"{model}\0{event_id}".encode(), digest_size=8).hexdigest()
    return f"{model}-{digest}"


def _jsonable(features: Any) -> Any:
    # Hostile or exotic features must not stop the request: what JSON cannot carry
    # travels as its repr, for a human to read.
    return json.loads(json.dumps(features, default=repr, allow_nan=False, sort_keys=True))


def request_record(
    model: str,
    version: str | None,
    event_id: str,
    features: Any,
    reason: str,
    at_ms: int | None = None,
) -> dict[str, Any]:
    try:
        payload = _jsonable(features)
    except ValueError:  # NaN / infinity
        payload = repr(features)
    return {
        "v": VERSION,
        "state": "pending",
        "review_id": review_id(model, event_id),
        "event_id": event_id,
        "model": model,
        "version": version,
        "features": payload,
        "reason": reason,
        "requested_at_ms": time.time_ns() // 1_000_000 if at_ms is None else at_ms,
    }


def answer_record(
    request: Mapping[str, Any],
    label: str | None,
    value: float | None,
    reviewer: str,
    at_ms: int | None = None,
) -> dict[str, Any]:
    return {
        **request,
        "state": "answered",
        "label": label,
        "value": value,
        "reviewer": reviewer,
        "answered_at_ms": time.time_ns() // 1_000_000 if at_ms is None else at_ms,
    }


def encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), sort_keys=True).encode()


class HumanReview:
    """The last step of a guard's chain: asks a human and returns :class:`Pending`.

    ``publish(key, value)`` sends a record; by default a Kafka producer on the
    ``human-review`` topic (``KAFKA_*`` and ``WK_TOPIC_PREFIX`` from the environment).
    """

    def __init__(self, publish: Publish | None = None, **kafka: Any) -> None:
        if publish is None:
            from ._review_topic import ReviewTopic

            publish = ReviewTopic(**kafka).publish
        self.publish = publish
        self.requested = 0

    def request(
        self, model: str, version: str | None, event_id: str, features: Any, reason: str
    ) -> Pending:
        record = request_record(model, version, event_id, features, reason)
        self.publish(record["review_id"], encode(record))
        self.requested += 1
        return Pending(record["review_id"], event_id)
