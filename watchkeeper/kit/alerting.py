"""Raising an alert, the same way in every service: fingerprint, record, output, metric.

The fingerprint is a hash of the labels that say *which* condition this is (the
identity); the labels sent carry more (severity, team). The record is the ``Alert``
event, keyed by its fingerprint on the ``alerts`` topic, which is compacted: the newest
state of every alert is what a reader rebuilds.

>>> import json
>>> emitter = AlertEmitter("drift", encode=lambda _schema, r: json.dumps(r).encode())
>>> out = emitter.emit({"alertname": "FeatureDrift", "model": "fraud"}, "firing",
...                    labels={"severity": "ticket"}, value=0.31, threshold=0.2,
...                    starts_at_ms=1000, now_ms=1500)
>>> out.topic, out.key == fingerprint({"model": "fraud", "alertname": "FeatureDrift"}).encode()
('alerts', True)
>>> record = json.loads(out.value)
>>> record["status"], record["labels"], record["generator"]
('FIRING', {'severity': 'ticket', 'alertname': 'FeatureDrift', 'model': 'fraud'}, 'drift')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..alerts import alert_record, fingerprint
from .task import Output

TOPIC = "alerts"
Encode = Callable[[str, dict[str, Any]], bytes]
Count = Callable[[str, str], None]  # (alertname, status)


class AlertEmitter:
    """Builds ``Alert`` outputs for one service (``generator``). ``count(alertname,
    status)`` is called for each, typically a Prometheus counter's ``labels(...).inc()``."""

    def __init__(self, generator: str, encode: Encode, count: Count | None = None) -> None:
        self.generator = generator
        self.encode = encode
        self.count = count

    def emit(
        self,
        identity: dict[str, str],
        status: str,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        value: float | None = None,
        threshold: float | None = None,
        starts_at_ms: int = 0,
        now_ms: int = 0,
        ends_at_ms: int | None = None,
        fp: str | None = None,
    ) -> Output:
        """One firing or resolved alert. ``labels`` are sent beside the identity (the
        identity wins a clash); pass ``fp`` when it was computed already."""
        fp = fp or fingerprint(identity)
        sent = {**(labels or {}), **identity}
        record = alert_record(
            fp,
            status,
            sent,
            annotations or {},
            value,
            threshold,
            starts_at_ms=starts_at_ms,
            now_ms=now_ms,
            generator=self.generator,
            ends_at_ms=ends_at_ms,
        )
        if self.count is not None:
            self.count(identity.get("alertname", ""), status)
        return Output(TOPIC, fp.encode(), self.encode("Alert", record))


def prometheus_count(counter: Any) -> Count:
    """Adapts a Counter labelled (alertname, status) to ``AlertEmitter``'s ``count``."""
    return lambda alertname, status: counter.labels(alertname, status).inc()


__all__ = ["AlertEmitter", "fingerprint", "prometheus_count"]
