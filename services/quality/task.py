"""The quality task: every model's contract checks on one input partition.

The engine's unit of state (``watchkeeper.runtime.batch``): prediction events in;
``QualityReport`` per closed window, ``GateState`` when a gate changes, ``Alert`` records
out; a changelog from which it is rebuilt exactly after a crash. Kafka-free: tests drive it
with plain dicts and a fake clock.

Windows are tumbling, per model, in **event time** (the partition's stream time is the
newest event time seen; a window closes when it passes the window's end + grace; an idle
partition's stream time follows the wall clock, as in slo). An event whose window has
closed is counted, as ``late``, in the window of the current stream time: its quality
still counts. An event time too far ahead of the clock is a consistency problem
(``future``), counted in the current window without moving stream time.

Changelog records:

======================== =============================================================
key                      value
======================== =============================================================
``t``                    the partition's stream time (JSON)
``m\\0<model>``           open windows, gate, silence of the model and of its sources
``d\\0<gen>\\0<n>``        recent event ids (packed digests), see ``dedup.py``
``d\\0meta``              the current id generation
======================== =============================================================
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from watchkeeper.codec import Codec
from watchkeeper.kit import AlertEmitter, Output, StreamClock, close_due, prometheus_count
from watchkeeper.kit.streamtime import CHANGELOG_KEY
from watchkeeper.runtime.metrics import forget

from . import gatechange, metrics, report
from .config import QualityConfig
from .contract import ContractSet
from .counts import WindowCounts
from .dedup import RecentIds
from .modelstate import ModelState
from .silence import Silence

SILENCE_ALERT = "DataSilent"


class QualityTask:
    def __init__(
        self,
        partition: int,
        config: QualityConfig,
        contracts: ContractSet,
        codec: Codec | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partition = partition
        self.config = config
        self.contracts = contracts
        self.codec = codec or Codec()
        self.clock = clock
        self.models: dict[str, ModelState] = {}
        self.recent = RecentIds(config.max_ids, config.duplicate_window_ms)
        self.awake_ms = int(clock() * 1000)  # silence counts from here after a restart
        self.stream = StreamClock(config.idle_ms, self.awake_ms)
        self.alerts = AlertEmitter("quality", self.codec.encode, prometheus_count(metrics.ALERTS))
        self._next_silence_check = 0
        self._outputs: list[Output] = []
        self._changes: dict[bytes, bytes | None] = {}
        self._dirty: set[str] = set()
        self._restoring: dict[str, dict[str, Any]] = {}

    @property
    def stream_ms(self) -> int:
        return self.stream.stream_ms

    # -- restore ------------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None) -> None:
        kind = key[:1]
        if key == CHANGELOG_KEY:
            self.stream.load(value)
        elif kind == b"m":
            model = key[2:].decode()
            if value is None:
                self._restoring.pop(model, None)
            else:
                self._restoring[model] = json.loads(value)
        elif kind == b"d":
            self.recent.restore(key, value)

    def restored(self) -> None:
        restoring, self._restoring = self._restoring, {}
        for model, data in restoring.items():
            state = self.models[model] = ModelState(self.contracts.for_model(model))
            state.load(data)
        self.recent.finish_restore()

    # -- events -------------------------------------------------------------------------

    def _add_model(self, model: str) -> ModelState | None:
        if len(self.models) >= self.config.max_models:
            # A client inventing model names must not grow state without bound.
            metrics.CAPPED.labels("models").inc()
            return None
        state = self.models[model] = ModelState(self.contracts.for_model(model))
        return state

    def process(self, topic: str, record: dict[str, Any]) -> None:
        model = record["model"]
        state = self.models.get(model) or self._add_model(model)
        if state is None:
            return
        now_ms = int(self.clock() * 1000)
        contract = state.contract
        event_ms = record["event_time_ms"]
        clock = self.stream
        stream = clock.stream_ms
        future = event_ms > now_ms + self.config.max_future_ms
        at = (stream or now_ms) if future else event_ms
        size = contract.window_ms
        start = at - at % size
        late = start + size + self.config.grace_ms <= stream
        if late:
            start = stream - stream % size
        counts = state.windows.get(start)
        if counts is None:
            counts = state.windows[start] = state.checker.new_counts()
        counts.events += 1
        inconsistent = state.checker.check(record, counts)
        if late:
            counts.late += 1
        if future:
            counts.future += 1
            inconsistent = True
        elif event_ms > stream:
            clock.stream_ms = stream = event_ms
        if self.recent.seen(record["event_id"], stream):
            counts.duplicates += 1
            inconsistent = True
        if inconsistent:
            counts.inconsistent += 1
        age = now_ms - event_ms
        if age > 0:
            counts.lag_sum_ms += age
            if age > counts.lag_max_ms:
                counts.lag_max_ms = age
            if age > contract.max_age_ms:
                counts.stale += 1
        # Silence bookkeeping is one store per event unless an alert has to end.
        silence = state.silence
        if silence.firing:
            silence.heard(now_ms)
            self._silence_over(state, None, silence.since_ms, now_ms)
        else:
            silence.last_ms = now_ms
        if state.checker.source is not None:
            source = state.checker.source_of(record)
            if source is not None:
                watch = state.sources.get(source)
                if watch is None or watch.firing:
                    self._heard_source(state, source, now_ms)
                else:
                    watch.last_ms = now_ms
        clock.busy = True
        self._dirty.add(model)

    def _heard_source(self, state: ModelState, source: str, now_ms: int) -> None:
        watch = state.sources.get(source)
        if watch is None:
            if len(state.sources) >= self.config.max_sources:
                metrics.CAPPED.labels("sources").inc()
                return
            watch = state.sources[source] = Silence(state.contract.source_silence_ms)
        if watch.heard(now_ms):
            self._silence_over(state, source, watch.since_ms, now_ms)

    # -- time ---------------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        if self.models and self.stream.advance_idle(now_ms):
            self._changes[CHANGELOG_KEY] = self.stream.record()
        grace, stream = self.config.grace_ms, self.stream.stream_ms
        for model, state in self.models.items():
            if not state.windows:
                continue
            for start, counts in close_due(state.windows, state.contract.window_ms, grace, stream):
                self._close(state, start, counts, now_ms)
                self._dirty.add(model)
        if now_ms >= self._next_silence_check:
            self._next_silence_check = now_ms + self.config.silence_check_ms
            self._check_silence(now_ms)

    # -- closed windows -----------------------------------------------------------------

    def _close(self, state: ModelState, start: int, counts: WindowCounts, now_ms: int) -> None:
        contract = state.contract
        end = start + contract.window_ms
        values = counts.values(contract)
        judged = counts.events >= contract.min_events
        state.details.update(report.details(contract, counts))
        blocked_before = state.gate.blocked
        changed = judged and state.gate.judge(
            values, state.thresholds, contract.for_windows, contract.recover_windows, end
        )
        record = report.record(
            contract, start, counts, values, judged, state.gate, state.thresholds, now_ms
        )
        self._outputs.append(
            Output(
                "quality-reports",
                contract.model.encode(),
                self.codec.encode("QualityReport", record),
            )
        )
        report.publish_metrics(contract, counts, values, judged)
        if changed:
            self._gate_changed(state, blocked_before, end, now_ms, (start, end))

    # -- the gate -----------------------------------------------------------------------

    def _gate_changed(
        self,
        state: ModelState,
        blocked_before: bool,
        event_ms: int,
        now_ms: int,
        window: tuple[int, int] | None,
    ) -> None:
        contract, gate = state.contract, state.gate
        reasons = gatechange.reasons(state, now_ms, self.awake_ms)
        flipped = gate.blocked != blocked_before
        blocked_since = gate.since_ms
        if flipped or not gate.since_ms:
            gate.since_ms = event_ms
        status = "BLOCKED" if gate.blocked else "UNBLOCKED"
        record = gatechange.record(contract, gate, status, reasons, window, now_ms)
        self._outputs.append(
            Output("gates", contract.gate.encode(), self.codec.encode("GateState", record))
        )
        metrics.GATE.labels(contract.gate).set(1.0 if gate.blocked else 0.0)
        metrics.GATE_CHANGES.labels(contract.gate, status.lower()).inc()
        self._dirty.add(contract.model)
        if not flipped:
            return  # the first verdict of a healthy gate: known now, nothing to alert
        worst = gatechange.worst(reasons)
        self._alert(
            gatechange.alert_labels(contract),
            "firing" if gate.blocked else "resolved",
            {"summary": gatechange.summary(contract, gate.blocked, reasons)},
            worst["value"] if worst else None,
            worst["threshold"] if worst else None,
            event_ms,
            now_ms,
            starts_ms=event_ms if gate.blocked else blocked_since,
        )

    def _alert(
        self,
        labels: dict[str, str],
        status: str,
        annotations: dict[str, str],
        value: float | None,
        threshold: float | None,
        event_ms: int,
        now_ms: int,
        starts_ms: int | None = None,
    ) -> None:
        identity = {k: labels[k] for k in ("alertname", "model", "gate", "source") if k in labels}
        self._outputs.append(
            self.alerts.emit(
                identity,
                status,
                labels,
                annotations,
                value,
                threshold,
                starts_at_ms=starts_ms if starts_ms is not None else event_ms,
                now_ms=now_ms,
                ends_at_ms=event_ms,
            )
        )

    # -- silence ------------------------------------------------------------------------

    def _silence_labels(self, state: ModelState, source: str | None) -> dict[str, str]:
        labels = {
            **state.contract.labels,
            "alertname": SILENCE_ALERT,
            "model": state.contract.model,
            "severity": state.contract.severity,
        }
        if source is not None:
            labels["source"] = source
        return labels

    def _check_silence(self, now_ms: int) -> None:
        awake = self.awake_ms
        for model, state in self.models.items():
            if state.silence.due(now_ms, awake):
                self._silence_started(state, None, state.silence, now_ms)
            forget = self.config.source_forget_ms
            for source, watch in list(state.sources.items()):
                if watch.due(now_ms, awake):
                    self._silence_started(state, source, watch, now_ms)
                elif watch.silent_for(now_ms, awake) >= forget:
                    # Gone for good (a decommissioned host): stop watching, close its alert.
                    del state.sources[source]
                    with contextlib.suppress(KeyError):
                        metrics.SILENT.remove(model, source)
                    if watch.firing:
                        self._silence_over(state, source, watch.since_ms, now_ms, forgotten=True)
                    self._dirty.add(model)

    def _silence_started(
        self, state: ModelState, source: str | None, watch: Silence, now_ms: int
    ) -> None:
        contract = state.contract
        silent_ms = now_ms - watch.since_ms
        since = watch.since_ms
        who = contract.model + (f" source {source}" if source is not None else "")
        self._alert(
            self._silence_labels(state, source),
            "firing",
            {"summary": f"{who}: no events for {silent_ms / 1000:.0f} s"},
            silent_ms / 1000,
            watch.limit_ms / 1000,
            since,
            now_ms,
        )
        metrics.SILENT.labels(contract.model, source or "").set(1.0)
        self._dirty.add(contract.model)
        if source is None and contract.silence_blocks:
            blocked_before = state.gate.blocked
            if state.gate.set_silent(True):
                self._gate_changed(state, blocked_before, since, now_ms, None)

    def _silence_over(
        self,
        state: ModelState,
        source: str | None,
        since_ms: int,
        now_ms: int,
        forgotten: bool = False,
    ) -> None:
        contract = state.contract
        who = contract.model + (f" source {source}" if source is not None else "")
        note = (
            f" (forgotten after {self.config.source_forget_ms / 3_600_000:g} h)"
            if forgotten
            else ""
        )
        self._alert(
            self._silence_labels(state, source),
            "resolved",
            {"summary": f"{who}: events arrive again{note}" if not forgotten else f"{who}{note}"},
            None,
            None,
            now_ms,
            now_ms,
            starts_ms=since_ms,
        )
        if not forgotten:
            metrics.SILENT.labels(contract.model, source or "").set(0.0)
        if source is None and state.gate.silent:
            blocked_before = state.gate.blocked
            if state.gate.set_silent(False):
                self._gate_changed(state, blocked_before, now_ms, now_ms, None)

    # -- hand-off to the engine ---------------------------------------------------------

    def pending_output(self) -> bool:
        return bool(self._outputs)

    def revoked(self) -> None:  # the partition's new owner exports its gauge now
        forget(metrics.RECENT_IDS, self.partition)

    def drain(self) -> tuple[list[Output], list[tuple[bytes, bytes | None]]]:
        for model in self._dirty:
            state = self.models.get(model)
            if state is not None:
                self._changes[b"m\x00" + model.encode()] = json.dumps(state.to_dict()).encode()
        if self._dirty:
            self._changes[CHANGELOG_KEY] = self.stream.record()
        self._dirty.clear()
        changes = list(self._changes.items()) + self.recent.changes()
        self._changes = {}
        metrics.RECENT_IDS.labels(str(self.partition)).set(len(self.recent))
        outputs, self._outputs = self._outputs, []
        return outputs, changes
