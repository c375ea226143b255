"""The slo task: the windows and rules of every series on one input partition.

It is the engine's unit of state (see ``watchkeeper.runtime.batch``): events in,
``WindowAggregate`` and ``Alert`` records out, and a changelog from which it is rebuilt
exactly after a crash. Kafka-free: the tests drive it with plain dicts and a fake clock.

Changelog records (keys are bytes, values JSON):

=========================== ==========================================================
key                         value
=========================== ==========================================================
``t``                       the partition's stream time
``s\\0<series>``             open windows, late count, rule states of one series
``h\\0<series>\\0<start>``    one closed window, while a rolling period still needs it
=========================== ==========================================================
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from watchkeeper.alerts import fingerprint
from watchkeeper.codec import Codec
from watchkeeper.kit import AlertEmitter, Output, StreamClock, key_text, prometheus_count
from watchkeeper.kit.streamtime import CHANGELOG_KEY

from . import metrics
from .aggregate import Aggregate
from .config import VIEWS_MS, SloConfig
from .evaluate import RuleState, Verdict, judge
from .rules import Rule, RuleSet
from .series import SeriesKey, SeriesState

OTHER = "_other"
_STATUS_OK = "OK"


class FutureEvent(ValueError):
    """An event time too far ahead of the clock: it would close every open window."""


def _periods(rules: RuleSet, window_ms: int) -> dict[int, bool]:
    """Every trailing period a series keeps, and whether it needs latency sketches."""
    periods: dict[int, bool] = {d: True for d in VIEWS_MS}
    for rule in rules.rules:
        if rule.view_ms:
            periods[rule.view_ms] = True
        if rule.baseline_ms:
            periods[rule.baseline_ms] = True
        for window in rule.windows:
            for period in (window.long_ms, window.short_ms):
                periods.setdefault(period, False)
    return {d: sketch for d, sketch in periods.items() if d >= window_ms}


class SloTask:
    def __init__(
        self,
        partition: int,
        config: SloConfig,
        rules: RuleSet,
        codec: Codec | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partition = partition
        self.config = config
        self.rules = rules
        self.codec = codec or Codec()
        self.clock = clock
        self.window_ms = config.window_ms
        self.periods = _periods(rules, config.window_ms)
        self.horizon_ms = max(self.periods)
        self.series: dict[SeriesKey, SeriesState] = {}
        self.stream = StreamClock(config.idle_ms, int(clock() * 1000))
        self.alerts = AlertEmitter("slo", self.codec.encode, prometheus_count(metrics.ALERTS))
        self._outputs: list[Output] = []
        self._changes: dict[bytes, bytes | None] = {}
        self._dirty: set[SeriesKey] = set()  # changed since the last drain
        self._to_evaluate: set[SeriesKey] = set()  # changed since the last early evaluation
        self._history: dict[SeriesKey, deque[int]] = {}
        # Closed windows read at restore, pushed in order once all are read.
        self._restored_history: dict[SeriesKey, dict[int, Aggregate]] = {}
        self._series_capped = 0
        self._observe = metrics.Observer()

    # -- restore ----------------------------------------------------------------------

    def restore(self, key: bytes, value: bytes | None) -> None:
        parts = key.split(b"\x00")
        if parts[0] == CHANGELOG_KEY:
            self.stream.load(value)
        elif parts[0] == b"s":
            series_key = tuple(json.loads(parts[1]))
            if value is None:
                self.series.pop(series_key, None)  # type: ignore[arg-type]
                return
            self._load_series(series_key, json.loads(value))  # type: ignore[arg-type]
        elif parts[0] == b"h":
            series_key = tuple(json.loads(parts[1]))
            windows = self._restored_history.setdefault(series_key, {})  # type: ignore[arg-type]
            start = int(parts[2])
            if value is None:
                windows.pop(start, None)
            else:
                windows[start] = Aggregate.from_dict(json.loads(value), self.rules.slow_thresholds)

    def _load_series(self, key: SeriesKey, data: dict[str, Any]) -> None:
        series = self._new_series(key)
        thresholds = self.rules.slow_thresholds
        series.open = {int(s): Aggregate.from_dict(a, thresholds) for s, a in data["open"].items()}
        series.late = data["late"]
        series.rule_states = {k: RuleState.from_dict(v) for k, v in data["rules"].items()}
        self.series[key] = series

    def restored(self) -> None:
        restored, self._restored_history = self._restored_history, {}
        for key, windows in restored.items():
            series = self.series.get(key) or self._add_series(key)
            history = self._history.setdefault(key, deque())
            for start in sorted(windows):
                series.push_closed(start, windows[start])
                history.append(start)

    # -- events -----------------------------------------------------------------------

    def _new_series(self, key: SeriesKey) -> SeriesState:
        return SeriesState(key, self.window_ms, self.periods, self.rules.slow_thresholds)

    def _add_series(self, key: SeriesKey) -> SeriesState:
        series = self.series[key] = self._new_series(key)
        return series

    def _series_for(self, record: dict[str, Any]) -> SeriesState:
        key = (record["model"], record["version"], record["variant"], record["region"] or "")
        series = self.series.get(key)
        if series is None:
            if len(self.series) >= self.config.max_series:
                # A client inventing versions must not grow state without bound.
                key = (key[0], OTHER, key[2], key[3])
                metrics.SERIES_CAPPED.inc()
                series = self.series.get(key) or self._add_series(key)
            else:
                series = self._add_series(key)
        return series

    def process(self, topic: str, record: dict[str, Any]) -> None:
        event_ms = record["event_time_ms"]
        now_ms = int(self.clock() * 1000)
        if event_ms > now_ms + self.config.max_future_ms:
            raise FutureEvent(
                f"event_time_ms {event_ms} is {(event_ms - now_ms) / 1000:.0f} s ahead of this "
                f"service's clock (limit WK_SLO_MAX_FUTURE_S={self.config.max_future_ms / 1000:g})"
            )
        series = self._series_for(record)
        stream = self.stream
        stream.busy = True
        self._dirty.add(series.key)
        if series.is_late(event_ms, stream.stream_ms, self.config.grace_ms):
            series.late += 1
            metrics.LATE.labels(*series.key).inc()
            return
        if topic == "predictions":
            llm = record["llm"]
            ok = record["status"] == _STATUS_OK
            degraded = bool(record.get("fallback_used") or record.get("cache_hit"))
            series.add_prediction(
                event_ms,
                record["latency_ms"],
                ok,
                record["cost_usd"],
                llm["tokens_in"] if llm else 0,
                llm["tokens_out"] if llm else 0,
                degraded,
            )
            self._observe(series.key, record["latency_ms"] / 1000.0, ok, degraded)
        else:
            start = event_ms - event_ms % self.window_ms
            series.window(start).add_telemetry(
                record["cpu_utilization"],
                record["memory_utilization"],
                record["gpu_utilization"],
            )
        self._to_evaluate.add(series.key)
        if event_ms > stream.stream_ms:
            stream.stream_ms = event_ms

    # -- time -------------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        self._observe.flush()  # once per consumed batch, not per event
        # An idle partition's stream time follows the wall clock, so its last windows close.
        # Without series there is nothing to close, and no reason to log the time.
        if self.series and self.stream.advance_idle(now_ms):
            self._changes[CHANGELOG_KEY] = self.stream.record()
        stream_ms = self.stream.stream_ms
        for series in self.series.values():
            if series.open:
                for start, agg in series.close_until(stream_ms, self.config.grace_ms):
                    self._closed(series, start, agg, now_ms)
        if self._to_evaluate:
            self._evaluate_early(now_ms)

    def _closed(self, series: SeriesState, start: int, agg: Aggregate, now_ms: int) -> None:
        end = start + self.window_ms
        figures = agg.figures(self.window_ms / 1000.0)
        labels = series.labels
        record = {
            "model": labels["model"],
            "version": labels["version"],
            "variant": labels["variant"],
            "region": labels.get("region"),
            "window_start_ms": start,
            "window_end_ms": end,
            "count": agg.count,
            "errors": agg.errors,
            "late": series.late,
            "throughput_per_s": figures["throughput_per_s"],
            "error_rate": figures["error_rate"],
            "availability": figures["availability"],
            "latency_p50_ms": figures["latency_p50_ms"],
            "latency_p95_ms": figures["latency_p95_ms"],
            "latency_p99_ms": figures["latency_p99_ms"],
            "latency_max_ms": figures["latency_max_ms"],
            "latency_mean_ms": figures["latency_mean_ms"],
            "cost_usd": figures["cost_usd"],
            "tokens_in": agg.tokens_in,
            "tokens_out": agg.tokens_out,
            "cpu_utilization": figures["cpu_utilization"],
            "memory_utilization": figures["memory_utilization"],
            "gpu_utilization": figures["gpu_utilization"],
            "emitted_at_ms": now_ms,
            "producer": "slo",
        }
        series.late = 0
        self._outputs.append(
            Output(
                "windows", labels["model"].encode(), self.codec.encode("WindowAggregate", record)
            )
        )
        metrics.WINDOWS.labels(*series.key).inc()
        metrics.publish(labels, "window", figures)
        for period in VIEWS_MS:
            view = series.rolling[period]
            metrics.publish(labels, f"{period // 60_000}m", view.total.figures(period / 1000))

        sid = key_text(series.key)
        self._changes[f"h\x00{sid}\x00{start}".encode()] = json.dumps(agg.to_dict()).encode()
        history = self._history.setdefault(series.key, deque())
        history.append(start)
        while history and history[0] < end - self.horizon_ms:
            self._changes[f"h\x00{sid}\x00{history.popleft()}".encode()] = None
        self._dirty.add(series.key)
        self._evaluate_closed(series, agg, end, now_ms)

    # -- rules ------------------------------------------------------------------------

    def _rule_instances(self, series: SeriesState):
        for rule in self.rules.rules:
            if not rule.applies_to(series.labels):
                continue
            if rule.kind == "burn_rate":
                for index in range(len(rule.windows)):
                    yield rule, index, f"{rule.alert}#{index}"
            else:
                yield rule, 0, rule.alert

    def _state(self, series: SeriesState, rule: Rule, index: int, name: str) -> RuleState:
        state = series.rule_states.get(name)
        if state is None:
            state = series.rule_states[name] = RuleState()
            labels = self._alert_labels(series, rule, index)
            state.fingerprint = fingerprint(labels)
        return state

    def _alert_labels(self, series: SeriesState, rule: Rule, index: int) -> dict[str, str]:
        severity = rule.windows[index].severity if rule.kind == "burn_rate" else rule.severity
        return {**rule.labels, **series.labels, "alertname": rule.alert, "severity": severity}

    def _evaluate_closed(self, series: SeriesState, agg: Aggregate, end: int, now_ms: int) -> None:
        for rule, index, name in self._rule_instances(series):
            state = self._state(series, rule, index, name)
            verdict = judge(series, rule, closed=agg, burn_index=index)
            change = state.observe(verdict.breach, end, fire_after=rule.for_windows)
            if change:
                self._alert(series, rule, index, state, change, verdict, end, now_ms)

    def _evaluate_early(self, now_ms: int) -> None:
        interval = self.config.eval_interval_ms
        for key in list(self._to_evaluate):
            series = self.series.get(key)
            if series is None or now_ms - series.last_eval_wall_ms < interval:
                continue
            self._to_evaluate.discard(key)
            series.last_eval_wall_ms = now_ms
            current = series.current()
            if current is None:
                continue
            start, partial = current
            stream_ms = self.stream.stream_ms
            open_s = (min(stream_ms, start + self.window_ms) - start) / 1000.0
            for rule, index, name in self._rule_instances(series):
                state = self._state(series, rule, index, name)
                if state.firing:
                    continue
                verdict = judge(series, rule, partial=partial, partial_s=open_s, burn_index=index)
                if state.fire_early(verdict.breach, stream_ms, rule.for_windows):
                    self._alert(series, rule, index, state, "firing", verdict, stream_ms, now_ms)

    def _alert(
        self,
        series: SeriesState,
        rule: Rule,
        index: int,
        state: RuleState,
        status: str,
        verdict: Verdict,
        event_ms: int,
        now_ms: int,
    ) -> None:
        labels = self._alert_labels(series, rule, index)
        context = {
            "alert": rule.alert,
            "severity": labels["severity"],
            "view": f"{(rule.view_ms or self.window_ms) // 1000}s",
            "region": labels.get("region", ""),
            "value": verdict.value if verdict.value is not None else float("nan"),
            "threshold": verdict.threshold if verdict.threshold is not None else float("nan"),
            **series.labels,
        }
        annotations = {k: v.format_map(context) for k, v in rule.annotations.items()}
        self._outputs.append(
            self.alerts.emit(
                labels,
                status,
                annotations=annotations,
                value=verdict.value,
                threshold=verdict.threshold,
                starts_at_ms=state.since_ms,
                now_ms=now_ms,
                ends_at_ms=event_ms,
                fp=state.fingerprint,
            )
        )
        self._dirty.add(series.key)

    # -- hand-off to the engine -------------------------------------------------------

    def revoked(self) -> None:
        """The partition went to another instance: stop exporting its series' gauges."""
        self._observe.flush()
        for key in self.series:
            metrics.forget(key)

    def pending_output(self) -> bool:
        return bool(self._outputs)

    def drain(self) -> tuple[list[Output], list[tuple[bytes, bytes | None]]]:
        for key in self._dirty:
            series = self.series.get(key)
            if series is None:
                continue
            data = {
                "open": {str(s): a.to_dict() for s, a in series.open.items()},
                "late": series.late,
                "rules": {k: v.to_dict() for k, v in series.rule_states.items()},
            }
            self._changes[f"s\x00{key_text(key)}".encode()] = json.dumps(data).encode()
        if self._dirty:
            self._changes[CHANGELOG_KEY] = self.stream.record()
        self._dirty.clear()
        outputs, self._outputs = self._outputs, []
        changes, self._changes = list(self._changes.items()), {}
        return outputs, changes
