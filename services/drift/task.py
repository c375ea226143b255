"""The drift task: every model version's monitors on one input partition, the pending
predictions waiting for labels, and what leaves: alerts, drift reports, retrain requests,
references built from production.

Changelog records (JSON values):

========================= ==============================================================
key                       value
========================= ==============================================================
``p\\0<event id>``         a pending prediction: monitors to tell, prediction, event time
``m\\0<monitor key>``      a monitor's firing verdicts, performance window, last retrain
========================= ==============================================================

Windows of recent values are not in the changelog (they would be rewritten at every
commit): after a restart each window refills before its next verdict.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from watchkeeper.codec import Codec
from watchkeeper.join import PendingLog, PendingPredictions
from watchkeeper.kit import AlertEmitter, Output, key_text, prometheus_count
from watchkeeper.runtime.metrics import forget

from . import metrics, report
from .alerting import alert, retrain_request
from .config import DriftConfig
from .monitor import Evaluation, ModelMonitor, MonitorKey
from .performance import Finding
from .profile import TOPIC as REFERENCES_TOPIC
from .profile import Reference, key_of

if TYPE_CHECKING:  # the store reads Kafka; the task only asks it
    from .reference_store import ReferenceStore

log = logging.getLogger(__name__)


class DriftTask:
    def __init__(
        self,
        partition: int,
        config: DriftConfig,
        references: ReferenceStore,
        codec: Codec | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partition = partition
        self.config = config
        self.references = references
        self.codec = codec or Codec()
        self.clock = clock
        self.monitors: dict[MonitorKey, ModelMonitor] = {}
        self.pending = PendingPredictions(config.max_pending, config.label_horizon_ms)
        self.caps = metrics.SeriesCap(config.max_metric_series)
        self.alerts = AlertEmitter("drift", self.codec.encode, prometheus_count(metrics.ALERTS))
        self._outputs: list[Output] = []
        # Alerts and retrain requests leave at the next commit; drift reports and references
        # ride with the interval commit (a commit per report would cost more than the work).
        self._urgent = False
        self._changes: dict[bytes, bytes | None] = {}
        self._dirty: set[MonitorKey] = set()
        self._states: dict[MonitorKey, dict[str, Any]] = {}  # restored, for monitors to come
        self.pending_log = PendingLog()
        self._key_texts: dict[tuple[MonitorKey, ...], str] = {}
        self._keys_of: dict[str, list[MonitorKey]] = {}

    # -- monitors -----------------------------------------------------------------------

    def _monitor(self, key: MonitorKey) -> ModelMonitor:
        monitor = self.monitors.get(key)
        version = self.references.version
        if monitor is not None and monitor.checked == version:
            return monitor  # the hot path: nothing changed on the references topic
        reference = self.references.get(*key)
        if monitor is None:
            monitor = ModelMonitor(key, self.config.for_model(key[0]), reference)
            state = self._states.pop(key, None)
            if state is not None:
                monitor.load(state)
            self.monitors[key] = monitor
        elif reference is not None and (
            monitor.reference is None or reference.created_at_ms != monitor.reference.created_at_ms
        ):
            # A reference was set (or replaced) while this worker runs: start over against it.
            log.info(
                "reference installed",
                extra={
                    "model": key[0],
                    "version": key[1],
                    "segment": key[2],
                    "source": reference.source,
                },
            )
            monitor.install(reference)
            metrics.REFERENCES.labels("topic").inc()
        monitor.checked = version
        return monitor

    def _keys(self, record: dict[str, Any]) -> tuple[str, list[MonitorKey]]:
        """The monitors an event feeds, and their names as text (cached: the pending store
        and its changelog keep the text, not the list)."""
        model, version = record["model"], record["version"]
        segment_by = self.config.for_model(model).segment_by
        segments = record["segments"]
        segmented = [
            (model, version, f"{label}={segments[label]}")
            for label in segment_by
            if label in segments
        ]
        keys: tuple[MonitorKey, ...] = ((model, version, None), *segmented)
        text = self._key_texts.get(keys)
        if text is None:
            text = self._key_texts[keys] = key_text(keys)
            self._keys_of[text] = list(keys)
        return text, self._keys_of[text]

    # -- events -------------------------------------------------------------------------

    def restored(self) -> None:
        """The packed pending log is unpacked once, after the whole changelog was read."""
        for event_id, line in self.pending_log.finish():
            event_ms, encoded, text = line.split("\x1f", 2)
            self._remember(text)
            self.pending.restore(event_id, (text, encoded), int(event_ms))

    def process(self, topic: str, record: dict[str, Any]) -> None:
        if topic == "predictions":
            self._prediction(record)
        else:
            self._feedback(record)

    def _prediction(self, record: dict[str, Any]) -> None:
        event_ms = record["event_time_ms"]
        text, keys = self._keys(record)
        for key in keys:
            monitor = self._monitor(key)
            due = monitor.observe(record)
            if monitor.built is not None:
                self._publish_reference(monitor.built, key)
            if due:
                self._report(monitor, monitor.evaluate(event_ms), event_ms)
        predicted = record["prediction_label"]
        if predicted is None:
            predicted = record["prediction_value"]
        if predicted is not None:
            # A tuple of strings: the garbage collector stops tracking it, which matters
            # with hundreds of thousands of predictions pending.
            encoded = f"s{predicted}" if isinstance(predicted, str) else f"f{predicted!r}"
            event_id = record["event_id"]
            for gone in self.pending.add(event_id, (text, encoded), event_ms):
                self.pending_log.removed(gone)
            self.pending_log.added(event_id, f"{event_ms}\x1f{encoded}\x1f{text}")

    def _feedback(self, record: dict[str, Any]) -> None:
        event_id = record["event_id"]
        item = self.pending.take(event_id)
        if item is None:
            # Never seen, or expired or evicted: counted (per outcome) rather than lost.
            metrics.LABELS.labels("unknown").inc()
            return
        metrics.LABELS.labels("joined").inc()
        self.pending_log.removed(event_id)
        text, encoded = item
        keys = self._keys_of.get(text) or self._remember(text)
        predicted: Any = encoded[1:] if encoded[0] == "s" else float(encoded[1:])
        actual: Any = record["label"] if isinstance(predicted, str) else record["value"]
        if actual is None:
            # A label of the wrong kind (a value for a classifier): nothing to compare.
            metrics.LABELS.labels("mismatched").inc()
            return
        event_ms = record["event_time_ms"]
        for key in keys:
            monitor = self._monitor(key)
            findings = monitor.observe_outcome(predicted, actual)
            self._dirty.add(key)
            for finding in findings:
                self._alert(monitor, finding, event_ms)
            current = monitor.performance.current
            if current is not None and key[2] is None and self._admit(key[0], key[1], "perf"):
                for name in ("accuracy", "f1", "mae", "rmse"):
                    value = getattr(current, name)
                    if value is not None:
                        metrics.PERFORMANCE.labels(key[0], key[1], name).set(value)

    def _count_pending(self) -> None:
        for outcome, n in self.pending.departures().items():
            if n:
                metrics.LABELS.labels(outcome).inc(n)
        metrics.PENDING.labels(str(self.partition)).set(len(self.pending))

    def tick(self, now_ms: int) -> None:
        """Verdicts follow events, not the clock: nothing is due on a tick."""

    # -- outputs ------------------------------------------------------------------------

    def _publish_reference(self, reference: Reference, key: MonitorKey) -> None:
        segment = key[2]
        topic_key = key_of(reference.model, reference.version)
        if segment:
            topic_key += b"\x00" + segment.encode()
        self.references.put(reference, segment)
        self._outputs.append(Output(REFERENCES_TOPIC, topic_key, reference.to_json()))
        metrics.REFERENCES.labels("production").inc()
        log.info(
            "reference built from production events",
            extra={
                "model": key[0],
                "version": key[1],
                "segment": segment,
                "events": reference.rows,
            },
        )

    def _admit(self, model: str, version: str, feature: str) -> bool:
        return self.caps.admit((model, version, feature))

    def _report(self, monitor: ModelMonitor, evaluation: Evaluation, event_ms: int) -> None:
        if not evaluation.results:
            return  # no feature has min_samples values yet: nothing to say
        model, version, segment = monitor.key
        now_ms = int(self.clock() * 1000)
        record = report.record(monitor, evaluation, event_ms, now_ms)
        self._outputs.append(
            Output("drift-reports", model.encode(), self.codec.encode("DriftReport", record))
        )
        if segment is None:
            metrics.EVALUATIONS.labels(model, version).inc()
            metrics.SHARE.labels(model, version).set(evaluation.share_drifted)
            if evaluation.unseen:
                metrics.UNSEEN.labels(model, version).inc(sum(evaluation.unseen.values()))
            for r in evaluation.results:
                if not self._admit(model, version, r.feature):
                    continue
                metrics.PSI.labels(model, version, r.feature).set(r.psi)
                metrics.DISTANCE.labels(model, version, r.feature).set(r.distance)
                metrics.DRIFTED.labels(model, version, r.feature).set(
                    1.0 if r.feature in monitor.firing else 0.0
                )
                for reason in ("missing", "invalid", "wrong_type", "new_categories"):
                    count = getattr(r, reason)
                    if count:
                        metrics.QUALITY.labels(model, version, r.feature, reason).inc(count)
        for finding in evaluation.findings:
            self._alert(monitor, finding, event_ms)
        if evaluation.findings:
            self._dirty.add(monitor.key)

    def _alert(self, monitor: ModelMonitor, finding: Finding, event_ms: int) -> None:
        self._outputs.append(
            alert(self.alerts, monitor, finding, event_ms, int(self.clock() * 1000))
        )
        self._urgent = True
        self._dirty.add(monitor.key)
        if finding.status == "firing":
            self._retrain(monitor, finding, event_ms)

    def _retrain(self, monitor: ModelMonitor, finding: Finding, event_ms: int) -> None:
        model, version, _ = monitor.key
        owner = self._monitor((model, version, None))  # the cooldown is per model version
        cooldown = owner.settings.retrain_cooldown_ms
        if owner.last_retrain_ms is not None and event_ms - owner.last_retrain_ms < cooldown:
            return
        owner.last_retrain_ms = event_ms
        self._dirty.add(owner.key)
        request = retrain_request(monitor, owner, finding, event_ms, cooldown)
        self._outputs.append(
            Output("retrain-requests", model.encode(), self.codec.encode("RetrainRequest", request))
        )
        self._urgent = True
        metrics.RETRAIN.labels(model, request["reason"]).inc()

    def _remember(self, text: str) -> list[MonitorKey]:
        keys = [tuple(k) for k in json.loads(text)]
        self._keys_of[text] = keys  # type: ignore[assignment]
        return keys  # type: ignore[return-value]

    # -- engine hand-off ----------------------------------------------------------------

    def pending_output(self) -> bool:
        return self._urgent

    def revoked(self) -> None:  # the partition's new owner exports its gauge now
        forget(metrics.PENDING, self.partition)

    def drain(self) -> tuple[list[Output], list[tuple[bytes, bytes | None]]]:
        for key in self._dirty:
            monitor = self.monitors.get(key)
            if monitor is not None:
                self._changes[b"m\x00" + key_text(key).encode()] = json.dumps(
                    monitor.state()
                ).encode()
        self._dirty.clear()
        self._changes.update(self.pending_log.drain())
        self._count_pending()
        outputs, self._outputs = self._outputs, []
        self._urgent = False
        changes, self._changes = list(self._changes.items()), {}
        return outputs, changes

    def restore(self, key: bytes, value: bytes | None) -> None:
        kind, _, rest = key.partition(b"\x00")
        if kind in (b"pb", b"px"):
            self.pending_log.restore(key, value)
        elif kind == b"m":
            monitor_key = tuple(json.loads(rest))
            if value is None:
                self._states.pop(monitor_key, None)  # type: ignore[arg-type]
            else:
                self._states[monitor_key] = json.loads(value)  # type: ignore[index]
