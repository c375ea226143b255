"""The live analysis of every running rollout (Kafka-free): observations from the
prediction and feedback streams, by the variant each event carries, and at each tick the
verdicts that become commands.

Evidence is per step: a new step (new weights) starts a new comparison, and the step's
clock is the ``step_started_ms`` recorded in the rollout (so a restarted service keeps
the deadline while it gathers evidence again). Observations arrive on feed threads; the
tick runs on the service's loop: one lock between them.

>>> from watchkeeper.control import Entity
>>> analyses = Analyses()
>>> spec = {"id": "fraud-1", "model": "fraud", "strategy": "canary", "state": "progressing",
...         "baseline": "1", "candidate": "2", "step": 0, "step_started_ms": 0,
...         "steps": [50.0, 100.0], "checks": [{"metric": "error_rate", "margin": 0.01}],
...         "feedback_metrics": [], "analysis": {"min_samples": 100, "min_duration_s": 0,
...         "deadline_s": 600, "on_deadline": "rollback", "alpha": 0.05}}
>>> analyses.update(Entity("rollout", "fraud-1", 1, spec, 0))
>>> for i in range(3000):
...     analyses.observe_prediction({"model": "fraud", "variant": "baseline", "version": "1",
...                                  "status": "OK", "latency_ms": 10.0, "event_id": f"b{i}"})
...     analyses.observe_prediction({"model": "fraud", "variant": "canary", "version": "2",
...                                  "status": "ERROR" if i % 10 == 0 else "OK",
...                                  "latency_ms": 10.0, "event_id": f"c{i}"})
>>> [(c.name, c.body["step"], c.body["check"]) for c in analyses.tick(now_ms=60_000)]
[('rollouts.rollback', 0, 'error_rate')]
>>> analyses.tick(now_ms=61_000)  # said once per step
[]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.control import Command, Entity

from .comparison import QUALITY_METRICS, comparison_for

ACTOR = "analysis"
REMEMBER_EVENTS = 200_000  # prediction ids kept to join feedback to its arm (bounded)


@dataclass
class Live:
    rollout: str
    spec: dict[str, Any]
    arms: dict[tuple[str, str], str]  # (variant, version) -> arm
    comparison: Any
    said: bool = False
    # event id -> (arm, predicted label, predicted value), for the feedback to come
    feedback: OrderedDict[str, tuple[str, Any, Any]] = field(default_factory=OrderedDict)
    joins: bool = False  # some check or metric reads feedback


class Analyses:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, Live] = {}  # by model
        self.models: frozenset[str] = frozenset()  # read without the lock by the feeds

    # -- the rollouts' state (the service's loop, after each commit) ----------------------

    def update(self, entity: Entity) -> None:
        spec = entity.data
        model = spec.get("model", "")
        with self._lock:
            current = self._live.get(model)
            running = spec["state"] in ("progressing", "running")
            if not running:
                if current is not None and current.rollout == entity.key:
                    del self._live[model]
                    self.models = frozenset(self._live)
                return
            same = (
                current is not None
                and current.rollout == entity.key
                and current.spec["step"] == spec["step"]
                and current.spec.get("step_started_ms") == spec.get("step_started_ms")
            )
            if same:
                current.spec = spec
                return
            live = Live(entity.key, spec, _arms(spec), comparison_for(spec))
            live.joins = bool(spec.get("feedback_metrics")) or bool(_quality_checks(spec))
            self._live[model] = live
            self.models = frozenset(self._live)

    # -- the streams (feed threads) -------------------------------------------------------

    def observe_prediction(self, record: dict[str, Any]) -> None:
        with self._lock:
            live = self._live.get(record.get("model", ""))
            if live is None:
                return
            arm = live.arms.get((record.get("variant", ""), record.get("version", "")))
            if arm is None:
                return
            live.comparison.observe(
                arm, record.get("status", "OK"), record.get("latency_ms"), record.get("score")
            )
            if live.joins:
                predicted = (arm, record.get("prediction_label"), record.get("prediction_value"))
                live.feedback[record["event_id"]] = predicted
                if len(live.feedback) > REMEMBER_EVENTS:
                    live.feedback.popitem(last=False)

    def observe_feedback(self, record: dict[str, Any]) -> None:
        with self._lock:
            live = self._live.get(record.get("model", ""))
            if live is None or not live.feedback:
                return
            joined = live.feedback.pop(record.get("event_id", ""), None)
            if joined is None:
                return
            arm, label, value = joined
            for metric in live.spec.get("feedback_metrics", []):
                found = _feedback_value(metric, record)
                if found is not None:
                    live.comparison.observe_metric(arm, metric["name"], found)
            quality = _quality_checks(live.spec)
            if "accuracy" in quality and label is not None and record.get("label") is not None:
                live.comparison.observe_metric(arm, "accuracy", float(label == record["label"]))
            if "abs_error" in quality and value is not None and record.get("value") is not None:
                live.comparison.observe_metric(arm, "abs_error", abs(value - record["value"]))

    # -- verdicts (the service's loop) ----------------------------------------------------

    def tick(self, now_ms: int) -> list[Command]:
        commands = []
        with self._lock:
            for live in self._live.values():
                if live.said:
                    continue
                elapsed_s = max(0.0, (now_ms - live.spec["step_started_ms"]) / 1000)
                command = _command(live, live.comparison.decide(elapsed_s), now_ms)
                if command is not None:
                    live.said = True
                    commands.append(command)
        return commands

    def retry(self, model: str, rollout: str) -> None:
        """The command for this rollout was not answered: say it again at the next tick."""
        with self._lock:
            live = self._live.get(model)
            if live is not None and live.rollout == rollout:
                live.said = False

    def snapshot(self, rollout: str, model: str) -> dict[str, Any] | None:
        with self._lock:
            live = self._live.get(model)
            if live is None or live.rollout != rollout:
                return None
            return live.comparison.snapshot()


def _arms(spec: dict[str, Any]) -> dict[tuple[str, str], str]:
    if spec["strategy"] == "canary":
        return {("baseline", spec["baseline"]): "baseline", ("canary", spec["candidate"]): "canary"}
    return {(v["name"], v["version"]): v["name"] for v in spec.get("variants", [])}


def _quality_checks(spec: dict[str, Any]) -> set[str]:
    names = {c["metric"] for c in spec.get("checks", [])}
    guards = spec.get("experiment", {}).get("guardrails", [])
    primary = spec.get("experiment", {}).get("primary", {}).get("metric")
    names |= {g["metric"] for g in guards} | {primary}
    return names & set(QUALITY_METRICS)


def _feedback_value(metric: dict[str, Any], record: dict[str, Any]) -> float | None:
    if metric.get("field", "value") == "value":
        value = record.get("value")
        return None if value is None else float(value)
    label = record.get("label")
    if label is None:
        return None
    return 1.0 if label == metric.get("positive", "1") else 0.0


def _command(live: Live, verdict: Any, now_ms: int) -> Command | None:
    spec, rid = live.spec, live.rollout
    path = {"id": rid}
    if spec["strategy"] == "canary":
        if verdict.action == "wait":
            return None
        step = spec["step"]
        if verdict.action == "advance":
            body = {"step": step, "reason": verdict.reason}
            return Command(
                "rollouts.advance",
                body,
                ACTOR,
                f"{rid}:{step}:advance",
                source="analysis",
                at_ms=now_ms,
                path=path,
            )
        body = {
            "step": step,
            "reason": verdict.reason,
            "check": verdict.check,
            "interval": list(verdict.interval) if verdict.interval else None,
        }
        return Command(
            "rollouts.rollback",
            body,
            ACTOR,
            f"{rid}:{step}:rollback",
            source="analysis",
            at_ms=now_ms,
            path=path,
        )
    if verdict.state == "running":
        return None
    state = "concluded" if verdict.state in ("decided", "deadline") else "stopped"
    body = {"state": state, "reason": verdict.reason, "verdict": verdict.to_dict()}
    return Command(
        "rollouts.conclude",
        body,
        ACTOR,
        f"{rid}:conclude",
        source="analysis",
        at_ms=now_ms,
        path=path,
    )
