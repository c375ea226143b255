"""The two read operations every control-plane service serves the same way: an
entity's events with their audit (``GET /api/v1/history/{kind}/{key}``, read scope) and
the whole state (``GET /api/v1/dump``, admin scope)."""

from __future__ import annotations

from typing import Any

from .commands import Rejected
from .operations import Call, Operation, Reply


def event_view(event: Any) -> dict[str, Any]:
    return {"seq": event.seq, "type": event.type, "data": event.data,
            "audit": event.audit._asdict()}  # fmt: skip


def history_operations(service: Any) -> list[Operation]:
    """``service`` is a ControlService (its store's history and dump)."""

    async def history(call: Call) -> Reply:
        kind, key = call.params["kind"], call.params["key"]
        events = service.store.history.get((kind, key))
        if not events:
            raise Rejected(404, f"no history for {kind} {key!r}")
        return Reply(200, {"events": [event_view(e) for e in events]})

    async def dump(call: Call) -> Reply:
        return Reply(200, service.store.dump())

    return [
        Operation("GET", "/api/v1/history/{kind}/{key}", "read", "An entity's events", history,
                  tag="history"),
        Operation("GET", "/api/v1/dump", "admin", "The whole state", dump, tag="history"),
    ]  # fmt: skip
