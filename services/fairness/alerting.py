"""When a measure's verdicts fire or resolve its alert, and the alert's words.

Firing waits for ``for`` breaching windows in a row; the first fair one resolves. A
verdict of too few in a group is no evidence either way: the state stays.
"""

from __future__ import annotations

from watchkeeper.kit import AlertEmitter, Hysteresis, Output

from .config import ALERTS
from .measures import Assessment, Measure
from .series import SeriesState

DESCRIBE = {
    "disparate_impact": "selection-rate ratio",
    "parity_difference": "selection-rate difference",
    "equal_opportunity": "true-positive-rate difference",
    "equalized_odds": "TPR/FPR difference",
}


def judge(
    series: SeriesState,
    attribute: str,
    measure: str,
    verdict: bool | None,
    assessment: Assessment,
    end: int,
    now_ms: int,
    emitter: AlertEmitter,
) -> Output | None:
    """The alert record a closed window's verdict makes, if it changes the alert's state."""
    if verdict is None:
        return None
    name = f"{attribute}\x1f{measure}"
    state = series.alerts.get(name)
    if state is None:
        state = series.alerts[name] = Hysteresis()
    change = state.observe(verdict, end, series.settings.for_windows, resolve_after=1)
    if change is None:
        return None
    return _alert(
        series, attribute, measure, change, assessment, state.since_ms, end, now_ms, emitter
    )


def _alert(
    series: SeriesState,
    attribute: str,
    measure: str,
    status: str,
    assessment: Assessment,
    since_ms: int,
    end_ms: int,
    now_ms: int,
    emitter: AlertEmitter,
) -> Output:
    model, version = series.key
    settings = series.settings
    alertname = ALERTS[measure]
    identity = {
        "alertname": alertname,
        "model": model,
        "version": version,
        "attribute": attribute,
    }
    labels = {**settings.labels, **identity, "severity": settings.severity}
    found: Measure = getattr(assessment, measure)
    summary = (
        f"{model} {version} {attribute}: {DESCRIBE[measure]} {found.value:.3f} "
        f"({found.compared}; {settings.confidence:.0%} CI {found.low:.3f} to "
        f"{found.high:.3f}; threshold {found.threshold:g})"
    )
    if measure == "disparate_impact" and status == "firing":
        summary += " - below the four-fifths rule" if found.threshold == 0.8 else ""
    rates = ", ".join(
        f"{g.group} {g.rate:.3f} (n={g.counts[0]})"
        for g in assessment.groups
        if g.eligible and g.rate is not None
    )
    return emitter.emit(
        identity,
        status,
        labels,
        {"summary": summary, "selection_rates": rates},
        found.value,
        found.threshold,
        starts_at_ms=since_ms,
        now_ms=now_ms,
        ends_at_ms=end_ms,
    )
