"""What leaves when a monitor evaluates its windows: the DriftReport record."""

from __future__ import annotations

from typing import Any

from .monitor import Evaluation, ModelMonitor


def record(
    monitor: ModelMonitor, evaluation: Evaluation, event_ms: int, now_ms: int
) -> dict[str, Any]:
    model, version, segment = monitor.key
    perf = monitor.performance.current
    return {
        "model": model,
        "version": version,
        "segment": segment,
        "event_time_ms": event_ms,
        "evaluated_at_ms": now_ms,
        "window_events": max((r.samples for r in evaluation.results), default=0),
        "reference_source": monitor.reference.source if monitor.reference else "",
        "share_drifted": evaluation.share_drifted,
        "dataset_drift": evaluation.dataset_drift,
        "features": [
            {
                "feature": r.feature,
                "kind": r.kind,
                "samples": r.samples,
                "psi": r.psi,
                "distance": r.distance,
                "p_value": r.p_value,
                "wasserstein": r.wasserstein,
                "drifted": r.drifted,
                "statistic": r.statistic,
                "missing": r.missing,
                "invalid": r.invalid,
                "wrong_type": r.wrong_type,
                "new_categories": r.new_categories,
            }
            for r in evaluation.results
        ],
        "unseen_features": evaluation.unseen,
        "labelled": len(monitor.performance.pairs),
        "accuracy": perf.accuracy if perf else None,
        "precision": perf.precision if perf else None,
        "recall": perf.recall if perf else None,
        "f1": perf.f1 if perf else None,
        "mae": perf.mae if perf else None,
        "rmse": perf.rmse if perf else None,
    }
