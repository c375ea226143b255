"""What leaves when a window closes: one FairnessReport per attribute, and the metrics."""

from __future__ import annotations

from typing import Any

from . import metrics
from .config import FairnessSettings
from .measures import (
    FALSE_POSITIVES,
    NEGATIVES,
    POSITIVES,
    SELECTED,
    TRUE_POSITIVES,
    Assessment,
    Measure,
)

# Assessment attribute -> FairnessReport field
MEASURE_FIELDS = {
    "disparate_impact": "disparate_impact",
    "parity_difference": "parity_difference",
    "equal_opportunity": "equal_opportunity_difference",
    "equalized_odds": "equalized_odds_difference",
}


def measure_record(measure: Measure | None) -> dict[str, Any] | None:
    if measure is None:
        return None
    return {
        "value": measure.value,
        "low": measure.low,
        "high": measure.high,
        "compared": measure.compared,
        "threshold": measure.threshold,
        "breached": measure.breached,
    }


def record(
    series: tuple[str, str],
    settings: FairnessSettings,
    start: int,
    end: int,
    unattributed: int,
    late: int,
    assessment: Assessment,
    now_ms: int,
) -> dict[str, Any]:
    """The FairnessReport of one series, attribute and closed window, for the codec."""
    model, version = series
    return {
        "model": model,
        "version": version,
        "attribute": assessment.attribute,
        "window_start_ms": start,
        "window_end_ms": end,
        "events": sum(g.counts[0] for g in assessment.groups),
        "unattributed": unattributed,
        "late": late,
        "reference_group": assessment.reference,
        "confidence": settings.confidence,
        "min_group_size": settings.min_group_size,
        "groups": [
            {
                "group": g.group,
                "count": g.counts[0],
                "selected": g.counts[SELECTED],
                "selection_rate": g.rate,
                "rate_low": g.rate_low,
                "rate_high": g.rate_high,
                "eligible": g.eligible,
                "positives": g.counts[POSITIVES],
                "true_positives": g.counts[TRUE_POSITIVES],
                "negatives": g.counts[NEGATIVES],
                "false_positives": g.counts[FALSE_POSITIVES],
                "tpr": g.tpr,
                "fpr": g.fpr,
            }
            for g in assessment.groups
        ],
        **{
            field: measure_record(getattr(assessment, measure))
            for measure, field in MEASURE_FIELDS.items()
        },
        "emitted_at_ms": now_ms,
        "producer": "fairness",
    }


def publish_metrics(series: tuple[str, str], assessment: Assessment) -> None:
    labels = (*series, assessment.attribute)
    for g in assessment.groups:
        if g.rate is not None:
            metrics.SELECTION_RATE.labels(*labels, g.group).set(g.rate)
        if g.tpr is not None:
            metrics.TPR.labels(*labels, g.group).set(g.tpr)
        if g.fpr is not None:
            metrics.FPR.labels(*labels, g.group).set(g.fpr)
    for measure in MEASURE_FIELDS:
        found: Measure | None = getattr(assessment, measure)
        if found is not None:
            for bound in ("value", "low", "high"):
                metrics.MEASURE.labels(*labels, measure, bound).set(getattr(found, bound))
