"""The words of a drift finding: its alert (severity, identity, summary) and the
RetrainRequest it asks for."""

from __future__ import annotations

from typing import Any

from watchkeeper.kit import AlertEmitter, Output

from .monitor import ModelMonitor
from .performance import Finding

SEVERITY = {
    "FeatureDrift": "ticket",
    "PredictionDrift": "ticket",
    "DatasetDrift": "page",
    "ConceptDrift": "ticket",
    "PerformanceDegraded": "page",
}
REASON = {
    "FeatureDrift": "DRIFT",
    "PredictionDrift": "DRIFT",
    "DatasetDrift": "DRIFT",
    "ConceptDrift": "PERFORMANCE",
    "PerformanceDegraded": "PERFORMANCE",
}


def alert(
    emitter: AlertEmitter, monitor: ModelMonitor, finding: Finding, event_ms: int, now_ms: int
) -> Output:
    model, version, segment = monitor.key
    identity = {"alertname": finding.alertname, "model": model, "version": version}
    if finding.feature is not None and finding.feature != "__prediction__":
        identity["feature"] = finding.feature
    if segment:
        identity["segment"] = segment
    labels = {"statistic": finding.statistic, "severity": SEVERITY[finding.alertname]}
    print_value = "n/a" if finding.value is None else f"{finding.value:.3g}"
    what = finding.feature if finding.alertname == "FeatureDrift" else finding.alertname
    where = f"{model} {version}" + (f" ({segment})" if segment else "")
    annotations = {
        "summary": f"{where}: {what} {finding.statistic}={print_value}"
        + (f" (threshold {finding.threshold:.3g})" if finding.threshold is not None else ""),
        "reference": monitor.reference.source if monitor.reference else "",
    }
    # The identity (the fingerprint) leaves out the statistic: one alert per feature,
    # whichever test noticed first.
    return emitter.emit(
        identity,
        finding.status,
        labels,
        annotations,
        finding.value,
        finding.threshold,
        starts_at_ms=event_ms,
        now_ms=now_ms,
        ends_at_ms=event_ms,
    )


def retrain_request(
    monitor: ModelMonitor, owner: ModelMonitor, finding: Finding, event_ms: int, cooldown: int
) -> dict[str, Any]:
    """The RetrainRequest of a firing finding of ``monitor`` (``owner``: its version's)."""
    model, version, segment = monitor.key
    reason = REASON[finding.alertname]
    evidence = {"alert": finding.alertname, "statistic": finding.statistic}
    if finding.feature and finding.feature != "__prediction__":
        evidence["feature"] = finding.feature
    if segment:
        evidence["segment"] = segment
    if owner.reference is not None:
        evidence["reference"] = owner.reference.source
    figures = {
        k: v
        for k, v in (("value", finding.value), ("threshold", finding.threshold))
        if v is not None
    }
    return {
        "request_id": f"{model}:{version}:{event_ms}",
        "event_time_ms": event_ms,
        "model": model,
        "version": version,
        "reason": reason,
        "evidence": evidence,
        "metrics": figures,
        # The same incident, replayed or seen by a second alert inside the cooldown,
        # carries the same key: a pipeline runs once per key.
        "dedup_key": f"{model}:{version}:{reason.lower()}:{event_ms - event_ms % cooldown}",
        "requested_by": "drift",
    }
