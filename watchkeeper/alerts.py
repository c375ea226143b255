"""Building ``Alert`` events, the same way in every service that raises them.

>>> a = fingerprint({"alertname": "A", "model": "m"})
>>> a == fingerprint({"model": "m", "alertname": "A"}), len(a)
(True, 16)
>>> record = alert_record("a1b2", "firing", {"alertname": "A"}, {}, 0.3, 0.2,
...                       starts_at_ms=1000, now_ms=1500, generator="drift")
>>> record["status"], record["ends_at_ms"]
('FIRING', None)
"""

from __future__ import annotations

import hashlib
from typing import Any


def fingerprint(labels: dict[str, str]) -> str:
    """Stable identity of an alert: a hash of its sorted labels."""
    text = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def alert_record(
    fingerprint: str,
    status: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    value: float | None,
    threshold: float | None,
    starts_at_ms: int,
    now_ms: int,
    generator: str,
    ends_at_ms: int | None = None,
) -> dict[str, Any]:
    """An ``Alert`` record for the codec; ``status`` is firing or resolved."""
    resolved = status == "resolved"
    return {
        "fingerprint": fingerprint,
        "status": "RESOLVED" if resolved else "FIRING",
        "labels": labels,
        "annotations": annotations,
        "value": value,
        "threshold": threshold,
        "starts_at_ms": starts_at_ms,
        "ends_at_ms": (ends_at_ms if ends_at_ms is not None else now_ms) if resolved else None,
        "event_time_ms": now_ms,
        "generator": generator,
    }
