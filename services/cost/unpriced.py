"""Requests of a model that one way of pricing could not price, and the CostUnpriced
alert that says so: they are counted as unpriced, never as free."""

from __future__ import annotations

from typing import Any

from watchkeeper.kit import AlertEmitter, Output


class Unpriced:
    """Requests of one model that one way of pricing could not price."""

    def __init__(self, first_ms: int) -> None:
        self.first_ms = first_ms
        self.count = 0
        self.reason = ""
        self.since_ms = 0  # event time it fired; 0 while not firing

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first_ms,
            "count": self.count,
            "reason": self.reason,
            "since": self.since_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unpriced:
        state = cls(data["first"])
        state.count, state.reason, state.since_ms = data["count"], data["reason"], data["since"]
        return state


def unpriced_alert(
    emitter: AlertEmitter,
    key: tuple[str, str, str],
    state: Unpriced,
    status: str,
    t: int,
    now_ms: int,
) -> Output:
    """The CostUnpriced record of a (model, pricing, source) that fires or resolves."""
    model, pricing, source = key
    labels = {"alertname": "CostUnpriced", "severity": "ticket", "model": model}
    labels["pricing"] = pricing
    if source:
        labels["provider_model"] = source
    what = f"provider model {source}" if source else "compute (no instance price)"
    summary = (
        f"{model}: {state.count} requests could not be priced by {what}: {state.reason}; "
        "they are counted as unpriced, not as free"
        if status == "firing"
        else f"{model}: {what} is priced again after {state.count} unpriced requests"
    )
    return emitter.emit(
        labels,
        status,
        annotations={"summary": summary, "reason": state.reason},
        value=float(state.count),
        starts_at_ms=state.since_ms,
        now_ms=now_ms,
        ends_at_ms=t if status == "resolved" else None,
    )
