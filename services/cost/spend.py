"""What the pricing stage publishes at each commit: its spend sums, merged per scope and
window into CostSpend records (keyed by scope, for the ledger that owns it), and the
spend metrics per model."""

from __future__ import annotations

from typing import Any

from watchkeeper.codec import Codec
from watchkeeper.kit import Output

from . import metrics, totals
from .scopes import Scopes

SPEND_TOPIC = "cost-spend"
_NEWEST = totals.SIZE  # the accumulators carry the newest event time after the figures
_SOURCES = {"llm": totals.LLM, "compute": totals.COMPUTE, "explicit": totals.EXPLICIT}


def spend_records(
    spend: dict[tuple[Any, ...], list[Any]],
    scopes: Scopes,
    window_ms: int,
    partition: int,
    codec: Codec,
    now_ms: int,
) -> list[Output]:
    """The CostSpend records of the sums per (model, version, labels..., window)."""
    merged: dict[tuple[str, int], list[Any]] = {}
    by_model: dict[str, list[Any]] = {}
    for combo, acc in spend.items():
        window = combo[6]
        for scope, labels in scopes.of(combo[:6]):
            out = merged.get((scope, window))
            if out is None:
                merged[(scope, window)] = [labels, acc[:]]
            else:
                totals.add(out[1], acc)
                out[1][_NEWEST] = max(out[1][_NEWEST], acc[_NEWEST])
        model = by_model.get(combo[0])
        if model is None:
            by_model[combo[0]] = acc[:]
        else:
            totals.add(model, acc)
    outputs = []
    for (scope, window), (labels, acc) in merged.items():
        record = {
            "scope": scope,
            "labels": labels,
            "window_start_ms": window,
            "window_ms": window_ms,
            "event_time_ms": acc[_NEWEST],
            **totals.as_fields(acc),
            "source_partition": partition,
            "emitted_at_ms": now_ms,
        }
        value = codec.encode("CostSpend", record)
        outputs.append(Output(SPEND_TOPIC, scope.encode(), value))
    for model, acc in by_model.items():
        for source, index in _SOURCES.items():
            if acc[index]:
                metrics.SPEND.labels(model, source).inc(acc[index])
        metrics.REQUESTS.labels(model, "yes").inc(acc[totals.REQUESTS] - acc[totals.UNPRICED])
        if acc[totals.UNPRICED]:
            metrics.REQUESTS.labels(model, "no").inc(acc[totals.UNPRICED])
    return outputs
