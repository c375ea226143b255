"""The fairness task: decisions per protected group of every model version on one input
partition, labels joined to them, verdicts when windows close.

The engine's unit of state (``watchkeeper.runtime.batch``): predictions and feedback in;
``FairnessReport`` per series, attribute and closed window, and ``Alert`` records out; a
changelog from which it is rebuilt exactly after a crash. Kafka-free: tests drive it with
plain dicts and a fake clock.

Windows are tumbling per model version in **event time**, as in slo and quality: a
prediction counts in the window of its event time, a label in the window of the
feedback's event time (when the truth became known), so a window's true/false positive
rates describe the labels that arrived in it. An event whose window has closed is counted
in the current one (``late``). Labels meet their predictions through
``watchkeeper.join.PendingPredictions``, kept in the changelog by ``join.PendingLog``, as
drift does.

Changelog records:

========================== ===========================================================
key                        value
========================== ===========================================================
``t``                      the partition's stream time (JSON)
``s\\0<series>``            open windows, known groups, alert states of a model version
``pb\\0<id>``               predictions that began awaiting their label in one commit:
                           time, decision, groups (``join.PendingLog``)
``px\\0<id>``               ids of predictions that left (labelled, expired, evicted)
========================== ===========================================================
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from watchkeeper.codec import Codec
from watchkeeper.join import PendingLog, PendingPredictions
from watchkeeper.kit import (
    AlertEmitter,
    Output,
    StreamClock,
    close_due,
    key_text,
    prometheus_count,
)
from watchkeeper.kit.streamtime import CHANGELOG_KEY
from watchkeeper.runtime.metrics import forget

from . import metrics, report
from .alerting import judge
from .config import FairnessConfig, FairnessSettings
from .measures import (
    FALSE_POSITIVES,
    NEGATIVES,
    POSITIVES,
    TRUE_POSITIVES,
    assess,
)
from .series import NOTHING_HELD, SeriesKey, SeriesState, Window


class FutureEvent(ValueError):
    """An event time too far ahead of the clock: it would close every open window."""


class FairnessTask:
    def __init__(
        self,
        partition: int,
        config: FairnessConfig,
        codec: Codec | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partition = partition
        self.config = config
        self.codec = codec or Codec()
        self.clock = clock
        self.series: dict[SeriesKey, SeriesState] = {}
        self.pending = PendingPredictions(config.max_pending, config.label_horizon_ms)
        self.pending_log = PendingLog()
        self._now_ms = int(clock() * 1000)  # refreshed by ticks, and when an event is ahead
        self.stream = StreamClock(config.idle_ms, self._now_ms)
        self.alerts = AlertEmitter("fairness", self.codec.encode, prometheus_count(metrics.ALERTS))
        self._settings: dict[str, FairnessSettings | None] = {}  # None: not monitored
        self._parsed: dict[str, tuple[SeriesKey, list[tuple[str, str]]]] = {}
        self._events = dict.fromkeys(
            ("counted", "undecided", "unattributed", "unmonitored", "capped", "late"), 0
        )
        self._labels = dict.fromkeys(("joined", "unknown", "mismatched"), 0)
        self._outputs: list[Output] = []
        self._changes: dict[bytes, bytes | None] = {}
        self._dirty: set[SeriesKey] = set()
        self._restoring: dict[SeriesKey, dict[str, Any]] = {}

    @property
    def stream_ms(self) -> int:
        return self.stream.stream_ms

    # -- restore ------------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None) -> None:
        kind, _, rest = key.partition(b"\x00")
        if key == CHANGELOG_KEY:
            self.stream.load(value)
        elif kind == b"s":
            series_key = tuple(json.loads(rest))
            if value is None:
                self._restoring.pop(series_key, None)  # type: ignore[arg-type]
            else:
                self._restoring[series_key] = json.loads(value)  # type: ignore[index]
        elif kind in (b"pb", b"px"):
            self.pending_log.restore(key, value)

    def restored(self) -> None:
        restoring, self._restoring = self._restoring, {}
        for key, data in restoring.items():
            series = self.series[key] = SeriesState(key, self._settings_of(key[0]))
            series.load(data)
        # Predictions of the same groups and decision share one item, as before the restart.
        items: dict[tuple[str, bool], tuple[str, bool]] = {}
        for event_id, entry in self.pending_log.finish():
            event_ms, decision, text = entry.split("\x1f", 2)
            item = (text, decision == "1")
            self.pending.restore(event_id, items.setdefault(item, item), int(event_ms))

    # -- events -------------------------------------------------------------------------

    def _settings_of(self, model: str) -> FairnessSettings:
        return self._settings.get(model) or self.config.for_model(model)

    def _monitored(self, model: str) -> FairnessSettings | None:
        try:
            return self._settings[model]
        except KeyError:
            settings = self.config.for_model(model)
            found = self._settings[model] = settings if settings.monitored else None
            return found

    def _series_for(self, key: SeriesKey, settings: FairnessSettings) -> SeriesState | None:
        series = self.series.get(key)
        if series is None:
            if len(self.series) >= self.config.max_series:
                return None  # a client inventing versions must not grow state without bound
            series = self.series[key] = SeriesState(key, settings)
        return series

    def _refuse_future(self, event_ms: int) -> None:
        if event_ms <= self._now_ms + self.config.max_future_ms:
            return
        self._now_ms = now_ms = int(self.clock() * 1000)  # the cached clock may lag: ask
        if event_ms > now_ms + self.config.max_future_ms:
            raise FutureEvent(
                f"event_time_ms {event_ms} is {(event_ms - now_ms) / 1000:.0f} s ahead of this "
                f"service's clock (limit WK_FAIRNESS_MAX_FUTURE_S="
                f"{self.config.max_future_ms / 1000:g})"
            )

    def _window(self, series: SeriesState, event_ms: int) -> Window:
        self._refuse_future(event_ms)
        size = series.settings.window_ms
        clock = self.stream
        stream = clock.stream_ms
        start = event_ms - event_ms % size
        late = start + size + self.config.grace_ms <= stream
        if start == series.open_start and not late:
            window = series.open_window
            if event_ms > stream:
                clock.stream_ms = event_ms
            return window  # type: ignore[return-value]
        if late:
            start = stream - stream % size
        window = series.windows.get(start)
        if window is None:
            window = series.windows[start] = Window()
        if late:
            window.late += 1
            self._events["late"] += 1
        else:
            series.open_start, series.open_window = start, window
            if event_ms > stream:
                clock.stream_ms = event_ms
        return window

    def process(self, topic: str, record: dict[str, Any]) -> None:
        if topic == "predictions":
            self._prediction(record)
        else:
            self._feedback(record)
        self.stream.busy = True

    def _decision(self, settings: FairnessSettings, record: dict[str, Any]) -> bool | None:
        if settings.favorable:
            label = record["prediction_label"]
            if label is not None:
                return label in settings.favorable
        threshold = settings.score_threshold
        if threshold is not None:
            score = record["score"]
            if score is None:
                score = record["prediction_value"]
            if score is not None:
                return score >= threshold
        return None

    def _prediction(self, record: dict[str, Any]) -> None:
        model = record["model"]
        settings = self._monitored(model)
        events = self._events
        if settings is None:
            events["unmonitored"] += 1
            return
        decision = self._decision(settings, record)
        if decision is None:
            events["undecided"] += 1
            return
        key = (model, record["version"])
        series = self.series.get(key) or self._series_for(key, settings)
        if series is None:
            events["capped"] += 1
            return
        event_ms = record["event_time_ms"]
        window = self._window(series, event_ms)
        segments = record["segments"]
        found: list[str | None] = []
        for attribute in settings.protected:
            group = segments.get(attribute)
            if group is None:
                window.unattributed[attribute] = window.unattributed.get(attribute, 0) + 1
                found.append(None)
                continue
            table = window.tables.get(attribute)
            if table is None:
                table = window.tables[attribute] = {}
            row = table.get(group)
            if row is None:
                group = series.admit(attribute, group)
                row = table.get(group)
                if row is None:
                    row = table[group] = [0, 0, 0, 0, 0, 0]
            row[0] += 1
            if decision:
                row[1] += 1
            found.append(group)
        self._dirty.add(key)
        groups = tuple(found)
        held = series.held.get(groups)
        if held is None:
            held = series.held[groups] = series.holding(groups)
        if held is NOTHING_HELD:
            events["unattributed"] += 1
            return
        events["counted"] += 1
        if settings.join_labels:
            items, suffixes = held
            event_id = record["event_id"]
            log = self.pending_log
            for gone in self.pending.add(event_id, items[decision], event_ms):
                log.removed(gone)
            log.added(event_id, f"{event_ms}{suffixes[decision]}")

    def _parse(self, text: str) -> tuple[SeriesKey, list[tuple[str, str]]]:
        parsed = self._parsed.get(text)
        if parsed is None:
            key, groups = json.loads(text)
            parsed = self._parsed[text] = (tuple(key), [tuple(g) for g in groups])  # type: ignore[assignment]
        return parsed  # type: ignore[return-value]

    def _feedback(self, record: dict[str, Any]) -> None:
        self._refuse_future(record["event_time_ms"])  # before the join, so a later label can
        event_id = record["event_id"]
        item = self.pending.take(event_id)
        if item is None:
            self._labels["unknown"] += 1  # never seen, not monitored, expired or evicted
            return
        self.pending_log.removed(event_id)
        text, decision = item
        key, groups = self._parse(text)
        settings = self._settings_of(key[0])
        truth = settings.is_truth_favorable(record["label"], record["value"])
        if truth is None:
            self._labels["mismatched"] += 1
            return
        self._labels["joined"] += 1
        series = self._series_for(key, settings)
        if series is None:
            return
        window = self._window(series, record["event_time_ms"])
        for attribute, group in groups:
            table = window.tables.get(attribute)
            if table is None:
                table = window.tables[attribute] = {}
            row = table.get(group)
            if row is None:
                row = table[group] = [0, 0, 0, 0, 0, 0]
            if truth:
                row[POSITIVES] += 1
                if decision:
                    row[TRUE_POSITIVES] += 1
            else:
                row[NEGATIVES] += 1
                if decision:
                    row[FALSE_POSITIVES] += 1
        self._dirty.add(key)

    # -- time ---------------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        self._now_ms = now_ms
        if self.series and self.stream.advance_idle(now_ms):
            self._changes[CHANGELOG_KEY] = self.stream.record()
        grace, stream = self.config.grace_ms, self.stream.stream_ms
        for key, series in self.series.items():
            if not series.windows:
                continue
            for start, window in close_due(
                series.windows, series.settings.window_ms, grace, stream
            ):
                if start == series.open_start:
                    series.open_start = series.open_window = None
                self._close(series, start, window, now_ms)
                self._dirty.add(key)

    # -- closed windows -----------------------------------------------------------------

    def _close(self, series: SeriesState, start: int, window: Window, now_ms: int) -> None:
        model = series.key[0]
        settings = series.settings
        end = start + settings.window_ms
        metrics.WINDOWS.labels(model).inc()
        for attribute in settings.protected:
            table = window.tables.get(attribute, {})
            unattributed = window.unattributed.get(attribute, 0)
            if not table and not unattributed:
                continue
            assessment = assess(table, settings, attribute)
            record = report.record(
                series.key,
                settings,
                start,
                end,
                unattributed,
                window.late,
                assessment,
                now_ms,
            )
            self._outputs.append(
                Output(
                    "fairness-reports", model.encode(), self.codec.encode("FairnessReport", record)
                )
            )
            report.publish_metrics(series.key, assessment)
            for measure, verdict in assessment.verdicts().items():
                metrics.VERDICTS.labels(
                    model,
                    measure,
                    "insufficient" if verdict is None else "breached" if verdict else "ok",
                ).inc()
                alert = judge(
                    series, attribute, measure, verdict, assessment, end, now_ms, self.alerts
                )
                if alert is not None:
                    self._outputs.append(alert)
                    self._dirty.add(series.key)

    # -- hand-off to the engine ---------------------------------------------------------

    def _count(self) -> None:
        for outcome, n in self._events.items():
            if n:
                metrics.EVENTS.labels(outcome).inc(n)
                self._events[outcome] = 0
        for outcome, n in self._labels.items():
            if n:
                metrics.LABELS.labels(outcome).inc(n)
                self._labels[outcome] = 0
        for outcome, n in self.pending.departures().items():
            if n:
                metrics.LABELS.labels(outcome).inc(n)
        metrics.PENDING.labels(str(self.partition)).set(len(self.pending))

    def pending_output(self) -> bool:
        return bool(self._outputs)

    def revoked(self) -> None:  # the partition's new owner exports its gauge now
        forget(metrics.PENDING, self.partition)

    def drain(self) -> tuple[list[Output], list[tuple[bytes, bytes | None]]]:
        for key in self._dirty:
            series = self.series.get(key)
            if series is not None:
                self._changes[b"s\x00" + key_text(key).encode()] = json.dumps(
                    series.to_dict()
                ).encode()
        if self._dirty:
            self._changes[CHANGELOG_KEY] = self.stream.record()
        self._dirty.clear()
        self._count()
        outputs, self._outputs = self._outputs, []
        changes, self._changes = list(self._changes.items()), {}
        return outputs, changes + self.pending_log.drain()
