"""The answer to a batch: one result per item, in order, and the status they add up to.

======  ==============================================================================
status  when
======  ==============================================================================
200     every item accepted and acknowledged by the broker (durable: acks=all)
207     some items rejected (``errors: true``), every other one acknowledged
422     every item rejected: nothing was written
503     some accepted items were not acknowledged in time (Kafka slow or away); each
        such item says ``"status": "failed"``; retry those with the same event ids
======  ==============================================================================

>>> from .items import Accepted, Rejected
>>> ok = Accepted(0, "predictions", b"fraud", b"...", "e-1")
>>> bad = Rejected(1, "latency_ms", "must be >= 0, got -1", "invalid")
>>> status, body = summarize([ok, bad], failed={})
>>> status, body["errors"], body["accepted"], body["rejected"]
(207, True, 1, 1)
>>> body["items"][1]
{'index': 1, 'status': 'rejected', 'field': 'latency_ms', 'reason': 'must be >= 0, got -1', \
'code': 'invalid'}
>>> summarize([ok], failed={0: "Local: Message timed out"})[0]
503
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .items import Accepted, Rejected


def summarize(
    outcomes: Sequence[Accepted | Rejected], failed: Mapping[int, str]
) -> tuple[int, dict[str, Any]]:
    """``failed``: index -> why, for accepted items the broker did not acknowledge."""
    items: list[dict[str, Any]] = []
    counts = {"accepted": 0, "rejected": 0, "failed": 0}
    for outcome in outcomes:
        if isinstance(outcome, Rejected):
            counts["rejected"] += 1
            items.append(
                {
                    "index": outcome.index,
                    "status": "rejected",
                    "field": outcome.field,
                    "reason": outcome.reason,
                    "code": outcome.code,
                }
            )
            continue
        entry = {"index": outcome.index, "topic": outcome.topic, "event_id": outcome.event_id}
        if outcome.index in failed:
            counts["failed"] += 1
            items.append({**entry, "status": "failed", "reason": failed[outcome.index]})
        else:
            counts["accepted"] += 1
            items.append({**entry, "status": "accepted"})
    if counts["failed"]:
        status = 503
    elif counts["rejected"] and not counts["accepted"]:
        status = 422
    elif counts["rejected"]:
        status = 207
    else:
        status = 200
    body = {"errors": status != 200, **counts, "items": items}
    return status, body
