"""What leaves when a window closes: the QualityReport, the metrics, and the one-line
details that tell a human why a check has its value."""

from __future__ import annotations

from typing import Any

from . import metrics
from .contract import Contract
from .counts import WindowCounts
from .gate import Gate


def _percent(x: float) -> str:
    return f"{x:.1%}"


def details(contract: Contract, counts: WindowCounts) -> dict[str, str]:
    """One line per check on what drove its value in this window.

    >>> from .contract import FieldSpec, FEATURE
    >>> amount = FieldSpec("features.amount", FEATURE, "amount", required=True)
    >>> counts = WindowCounts(1, 0)
    >>> counts.events, counts.present[0], counts.duplicates = 50, 20, 2
    >>> details(Contract("fraud", "fraud", fields=(amount,)), counts)
    {'completeness': 'features.amount missing in 60.0% of events', 'consistency': 'duplicate ids 2'}
    """
    events = counts.events or 1
    fields = contract.fields
    found = {}
    worst_missing = max(
        (
            (1 - counts.present[i] / counts.judged(f), f.path)
            for i, f in enumerate(fields)
            if f.required and counts.judged(f)
        ),
        default=None,
    )
    if worst_missing and worst_missing[0]:
        found["completeness"] = (
            f"{worst_missing[1]} missing in {_percent(worst_missing[0])} of events"
        )
    worst_invalid = max(
        (
            (counts.invalid[i] / counts.present[i], f.path)
            for i, f in enumerate(fields)
            if f.constrained and counts.present[i]
        ),
        default=None,
    )
    if worst_invalid and worst_invalid[0]:
        found["accuracy"] = f"{worst_invalid[1]}: {_percent(worst_invalid[0])} invalid"
    parts = [
        f"{name} {n}"
        for name, n in (
            ("wrong types", sum(counts.wrong_type)),
            ("duplicate ids", counts.duplicates),
            ("future event times", counts.future),
        )
        if n
    ]
    parts += [
        f"rule '{rule.name}' broken {n}x"
        for rule, n in zip(contract.rules, counts.rules, strict=True)
        if n
    ]
    if parts:
        found["consistency"] = ", ".join(parts)
    if counts.stale:
        found["freshness"] = (
            f"{_percent(counts.stale / events)} older than "
            f"{contract.max_age_ms / 1000:g} s on arrival, "
            f"max lag {counts.lag_max_ms / 1000:.1f} s"
        )
    return found


def record(
    contract: Contract,
    start: int,
    counts: WindowCounts,
    values: dict[str, float | None],
    judged: bool,
    gate: Gate,
    thresholds: dict[str, float],
    now_ms: int,
) -> dict[str, Any]:
    """The QualityReport of one closed window, for the codec."""
    events = counts.events
    return {
        "model": contract.model,
        "gate": contract.gate,
        "window_start_ms": start,
        "window_end_ms": start + contract.window_ms,
        "events": events,
        "late": counts.late,
        **values,
        "fields": [
            {
                "field": f.path,
                "present": counts.present[i],
                "missing": counts.judged(f) - counts.present[i],
                "invalid": counts.invalid[i],
                "wrong_type": counts.wrong_type[i],
            }
            for i, f in enumerate(contract.fields)
        ],
        "rules": [
            {"rule": r.name, "violations": counts.rules[i]} for i, r in enumerate(contract.rules)
        ],
        "duplicates": counts.duplicates,
        "future": counts.future,
        "stale": counts.stale,
        "lag_mean_ms": counts.lag_sum_ms / events if events else None,
        "lag_max_ms": counts.lag_max_ms if events else None,
        "judged": judged,
        "failing": [name for name, _, _ in gate.failing(thresholds)],
        "gate_state": "BLOCKED" if gate.blocked else "UNBLOCKED",
        "emitted_at_ms": now_ms,
        "producer": "quality",
    }


def publish_metrics(
    contract: Contract, counts: WindowCounts, values: dict[str, float | None], judged: bool
) -> None:
    model = contract.model
    metrics.WINDOWS.labels(model, "judged" if judged else "insufficient").inc()
    events = counts.events
    if not events:
        return
    for check, value in values.items():
        if value is not None:
            metrics.CHECK.labels(model, check).set(value)
    missing = invalid = 0
    for i, spec in enumerate(contract.fields):
        checked = counts.judged(spec)
        absent = checked - counts.present[i]
        missing += absent
        invalid += counts.invalid[i]
        if checked:
            metrics.FIELD_MISSING.labels(model, spec.path).set(absent / checked)
        if counts.present[i]:
            metrics.FIELD_INVALID.labels(model, spec.path).set(
                counts.invalid[i] / counts.present[i]
            )
    for kind, n in (
        ("missing", missing),
        ("invalid", invalid),
        ("wrong_type", sum(counts.wrong_type)),
        ("rule", sum(counts.rules)),
        ("duplicate", counts.duplicates),
        ("future", counts.future),
        ("stale", counts.stale),
        ("late", counts.late),
    ):
        if n:
            metrics.VIOLATIONS.labels(model, kind).inc(n)
    metrics.LAG.labels(model, "mean").set(counts.lag_sum_ms / events)
    metrics.LAG.labels(model, "max").set(counts.lag_max_ms)
