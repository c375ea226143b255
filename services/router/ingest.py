"""Alertmanager's webhook payload in, ``Alert`` events out: teams with Prometheus rules
point an Alertmanager ``webhook_config`` at the router and gain escalation.

The whole payload must be a JSON object with an ``alerts`` list (otherwise 400 with the
reason: the sender's configuration is wrong). Each alert that is sound becomes an
``Alert`` event keyed by its fingerprint (Alertmanager's, so the same alert keeps its
identity); one that is not is dead-lettered with its reason and reported in the answer,
never silently dropped, and never a reason to refuse its sound neighbours (Alertmanager
does not retry a 4xx, so refusing all would lose them all).

>>> payload = {"version": "4", "alerts": [{"status": "firing",
...     "labels": {"alertname": "Up", "job": "api"}, "annotations": {"summary": "down"},
...     "startsAt": "2026-01-01T00:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
...     "generatorURL": "http://prom/graph", "fingerprint": "a1b2c3d4e5f60718"}, {"labels": 3}]}
>>> good, bad = from_alertmanager(payload, now_ms=1767225600500)
>>> record = good[0]
>>> record["fingerprint"], record["status"], record["starts_at_ms"], record["generator"]
('a1b2c3d4e5f60718', 'FIRING', 1767225600123, 'alertmanager')
>>> record["annotations"]["generator_url"]
'http://prom/graph'
>>> bad
[(1, 'labels must be a non-empty map of strings')]
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

GENERATOR = "alertmanager"
MAX_ALERTS = 1000
_FRACTION = re.compile(r"\.(\d+)")


class IngestError(ValueError):
    """The payload as a whole cannot be read."""


def from_alertmanager(payload: Any, now_ms: int) -> tuple[list[dict], list[tuple[int, str]]]:
    """Alert records for the sound alerts, and (index, reason) for the others."""
    if not isinstance(payload, dict):
        raise IngestError("the body must be a JSON object (Alertmanager's webhook payload)")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise IngestError("'alerts' must be a list")
    if len(alerts) > MAX_ALERTS:
        raise IngestError(f"at most {MAX_ALERTS} alerts per request, got {len(alerts)}")
    good: list[dict] = []
    bad: list[tuple[int, str]] = []
    for index, raw in enumerate(alerts):
        try:
            good.append(_record(raw, now_ms))
        except ValueError as exc:
            bad.append((index, str(exc)))
    return good, bad


def _record(raw: Any, now_ms: int) -> dict:
    if not isinstance(raw, dict):
        raise ValueError("an alert must be an object")
    labels = raw.get("labels")
    if not _string_map(labels) or not labels:
        raise ValueError("labels must be a non-empty map of strings")
    annotations = raw.get("annotations") or {}
    if not _string_map(annotations):
        raise ValueError("annotations must be a map of strings")
    status = raw.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise ValueError(f"status must be firing or resolved, got {status!r}")
    starts = parse_time(raw.get("startsAt"), "startsAt") or now_ms
    ends = parse_time(raw.get("endsAt"), "endsAt") if status == "resolved" else None
    fingerprint = raw.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        fingerprint = label_fingerprint(labels)
    annotations = dict(annotations)
    if isinstance(raw.get("generatorURL"), str) and raw["generatorURL"]:
        annotations["generator_url"] = raw["generatorURL"]
    return {
        "fingerprint": fingerprint,
        "status": status.upper(),
        "labels": dict(labels),
        "annotations": annotations,
        "value": None,
        "threshold": None,
        "starts_at_ms": starts,
        "ends_at_ms": ends if ends is not None else (now_ms if status == "resolved" else None),
        "event_time_ms": now_ms,
        "generator": GENERATOR,
    }


def parse_time(text: Any, what: str) -> int | None:
    """RFC 3339 as Go writes it (nanoseconds, ``Z``) in epoch ms; Go's zero time is None.

    >>> parse_time("2026-01-01T01:00:00+01:00", "t"), parse_time("0001-01-01T00:00:00Z", "t")
    (1767225600000, None)
    """
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise ValueError(f"{what} must be an RFC 3339 time")
    if text.startswith("0001-01-01"):
        return None
    # Python reads at most microseconds: cut Go's nanoseconds to six digits.
    cleaned = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} is not an RFC 3339 time: {text[:40]!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} needs a time zone: {text[:40]!r}")
    return int(moment.timestamp() * 1000)


def label_fingerprint(labels: dict[str, str]) -> str:
    material = "\xff".join(f"{k}\xfe{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )
