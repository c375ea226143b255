"""What leaves when a gate changes: the GateState record with its reasons, and the words
of the QualityGateBlocked alert."""

from __future__ import annotations

from typing import Any

from .contract import Contract
from .gate import Gate
from .modelstate import ModelState

GATE_ALERT = "QualityGateBlocked"


def reasons(state: ModelState, now_ms: int, awake_ms: int) -> list[dict[str, Any]]:
    """Why the gate is as it is: every failing check, and the model's silence."""
    found = [
        {
            "check": check,
            "value": value,
            "threshold": threshold,
            "detail": state.details.get(check, ""),
        }
        for check, value, threshold in state.gate.failing(state.thresholds)
    ]
    if state.gate.silent:
        silent_s = state.silence.silent_for(now_ms, awake_ms) / 1000
        found.append(
            {
                "check": "silence",
                "value": silent_s,
                "threshold": state.contract.silence_ms / 1000,
                "detail": f"no events for {silent_s:.0f} s",
            }
        )
    return found


def record(
    contract: Contract,
    gate: Gate,
    status: str,
    reasons: list[dict[str, Any]],
    window: tuple[int, int] | None,
    now_ms: int,
) -> dict[str, Any]:
    return {
        "gate": contract.gate,
        "model": contract.model,
        "state": status,
        "reasons": reasons,
        "since_ms": gate.since_ms,
        "window_start_ms": window[0] if window else None,
        "window_end_ms": window[1] if window else None,
        "event_time_ms": now_ms,
        "producer": "quality",
    }


def alert_labels(contract: Contract) -> dict[str, str]:
    return {
        **contract.labels,
        "alertname": GATE_ALERT,
        "gate": contract.gate,
        "model": contract.model,
        "severity": contract.severity,
    }


def worst(reasons: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The failing check furthest below its threshold: the alert's value."""
    return min(
        (r for r in reasons if r["check"] != "silence" and r["value"] is not None),
        key=lambda r: r["value"] - r["threshold"],
        default=None,
    )


def summary(contract: Contract, blocked: bool, reasons: list[dict[str, Any]]) -> str:
    if not blocked:
        return f"gate {contract.gate} unblocked: every check meets its threshold again"
    return f"gate {contract.gate} blocked: " + "; ".join(
        f"{r['check']} {r['value']:.3g} < {r['threshold']:.3g}"
        + (f" ({r['detail']})" if r["detail"] else "")
        if r["check"] != "silence"
        else r["detail"]
        for r in reasons
    )
