"""Incidents: what an escalation that ran out of steps becomes, kept for people to read.

An incident is a record of its own on the compacted ``incidents`` topic (key: the incident
id, JSON value): its id, the group and policy, its status (``open``, ``acknowledged``,
``resolved``), who acknowledged or resolved it, the alerts, and the timeline of its
escalation: pages, acknowledgements (and their timeouts), deliveries, the resolution.
The router writes it whenever its escalation changes; the API reads it from here, so
resolved incidents stay readable after their escalation is gone.

>>> from services.router.escalation import Escalation
>>> esc = Escalation("e1", "{}:{}", "risk", 0, status="acknowledged", incident_id="inc-e1",
...                  incident_opened_ms=5, acked_by="alice")
>>> book = IncidentBook()
>>> key, value = book.update(esc)
>>> other = IncidentBook()
>>> other.apply(key, value)
>>> incident = other.get("inc-e1")
>>> incident["status"], incident["acked_by"], incident["escalation_id"]
('acknowledged', 'alice', 'e1')
"""

from __future__ import annotations

import json
from typing import Any

from .escalation import ACKNOWLEDGED, RESOLVED, Escalation

FORMAT_VERSION = 1


class IncidentError(ValueError):
    """An unreadable incident record."""


def view(esc: Escalation) -> dict[str, Any]:
    status = {ACKNOWLEDGED: "acknowledged", RESOLVED: "resolved"}.get(esc.status, "open")
    return {
        "id": esc.incident_id,
        "escalation_id": esc.id,
        "group_key": esc.group_key,
        "policy": esc.policy,
        "status": status,
        "opened_ms": esc.incident_opened_ms,
        "started_ms": esc.started_ms,
        "acked_by": esc.acked_by,
        "acked_ms": esc.acked_ms,
        "resolved_by": esc.resolved_by,
        "resolved_ms": esc.resolved_ms,
        "alerts": esc.alerts,
        "timeline": esc.timeline,
    }


class IncidentBook:
    def __init__(self) -> None:
        self._incidents: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._incidents)

    def get(self, incident_id: str) -> dict[str, Any] | None:
        return self._incidents.get(incident_id)

    def all(self) -> list[dict[str, Any]]:
        return sorted(self._incidents.values(), key=lambda i: (i["opened_ms"] or 0, i["id"]))

    def open_count(self) -> int:
        return sum(1 for i in self._incidents.values() if i["status"] != "resolved")

    def update(self, esc: Escalation) -> tuple[bytes, bytes]:
        """Take the escalation's state into its incident; the record to write."""
        record = view(esc)
        self._incidents[record["id"]] = record
        body = json.dumps({"v": FORMAT_VERSION, **record}, separators=(",", ":"))
        return record["id"].encode(), body.encode()

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        incident_id = (key or b"").decode(errors="replace")
        if value is None:
            self._incidents.pop(incident_id, None)
            return
        try:
            record = json.loads(value)
            if record.pop("v", None) != FORMAT_VERSION:
                raise IncidentError("unknown format version")
            if record["id"] != incident_id:
                raise IncidentError(f"record key {incident_id!r} does not match its incident")
        except IncidentError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise IncidentError(f"unreadable incident: {type(exc).__name__}: {exc}") from None
        self._incidents[incident_id] = record
