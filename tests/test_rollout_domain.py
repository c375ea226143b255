"""The rollout service's decisions and live analysis, without Kafka."""

from __future__ import annotations

import pytest

from services.rollout.analysis import Analyses
from services.rollout.decide import Rollouts
from services.rollout.reconcile import work_left
from watchkeeper.control import Command, Rejected, Store

CANARY = {"model": "fraud", "strategy": "canary", "baseline": "1", "candidate": "2",
          "steps": [10, 50, 100], "checks": [{"metric": "error_rate", "margin": 0.02}]}  # fmt: skip


FEEDBACK = {"name": "conversion", "field": "label", "positive": "yes"}


class Domain:
    def __init__(self):
        self.store = Store(Rollouts())
        self.n = 0

    def run(self, name, body=None, at_ms=1000, **path):
        self.n += 1
        batch = self.store.overlay()
        command = Command(name, body or {}, "alice", f"k{self.n}", path=path, at_ms=at_ms)
        answer = batch.submit(command)
        self.store.merge(batch)
        return answer.body

    def rollout(self, rid="fraud-1"):
        return self.store.get("rollout", rid).data

    def weights(self, model="fraud"):
        split = self.store.get("routing", model).data["split"]
        return [(v["name"], v["version"], v["weight"]) for v in split["variants"]]


def test_a_canary_steps_pauses_resumes_and_a_stale_verdict_is_refused():
    d = Domain()
    d.run("rollouts.create", CANARY)
    assert d.weights() == [("baseline", "1", 90.0), ("canary", "2", 10.0)]
    d.run("rollouts.advance", {"step": 0}, at_ms=5000, id="fraud-1")
    assert d.weights() == [("baseline", "1", 50.0), ("canary", "2", 50.0)]
    assert d.rollout()["step_started_ms"] == 5000
    with pytest.raises(Rejected, match="at step 1, not 0"):
        d.run("rollouts.advance", {"step": 0}, id="fraud-1")
    d.run("rollouts.pause", {"reason": "weekend"}, id="fraud-1")
    with pytest.raises(Rejected, match="is paused, not progressing"):
        d.run("rollouts.advance", {"step": 1}, id="fraud-1")
    d.run("rollouts.resume", {}, at_ms=9000, id="fraud-1")
    assert (d.rollout()["state"], d.rollout()["step_started_ms"]) == ("progressing", 9000)


def test_a_rollback_routes_to_the_baseline_and_raises_the_alert_the_next_rollout_resolves():
    d = Domain()
    d.run("rollouts.create", CANARY)
    d.run("rollouts.rollback", {"step": 0, "reason": "errors", "check": "error_rate"}, id="fraud-1")
    assert d.weights() == [("default", "1", 100.0)]
    routing = d.store.get("routing", "fraud").data
    assert (routing["active"], routing["alert"]["version"]) == ("", "2")
    assert d.rollout()["rollback"]["reason"] == "errors"
    assert d.run("rollouts.create", CANARY)["id"] == "fraud-2"
    routing = d.store.get("routing", "fraud").data
    assert routing["alert"] is None and routing["resolves"]["rollout"] == "fraud-1"


def test_blue_green_switches_back_and_retires_only_after_keep_ready():
    d = Domain()
    d.run("rollouts.create", {"model": "m", "strategy": "bluegreen", "baseline": "1",
                              "candidate": "2", "keep_ready_s": 10})  # fmt: skip
    with pytest.raises(Rejected, match="no earlier version"):
        d.run("rollouts.rollback", {}, id="m-1")
    d.run("rollouts.switch", {}, at_ms=1000, id="m-1")
    assert d.weights("m") == [("blue", "1", 0.0), ("green", "2", 100.0)]
    assert d.rollout("m-1")["alias_pending"] == "2" and work_left(d.rollout("m-1"))
    d.run("rollouts.aliased", {"version": "2"}, id="m-1")
    with pytest.raises(Rejected, match="keeps its other version ready"):
        d.run("rollouts.retire", {}, at_ms=5000, id="m-1")
    d.run("rollouts.retire", {}, at_ms=11_001, id="m-1")
    assert d.rollout("m-1")["state"] == "completed"
    assert d.weights("m") == [("default", "2", 100.0)]


def test_an_ab_test_splits_as_declared_and_ends_on_its_control():
    d = Domain()
    spec = {
        "model": "m",
        "strategy": "ab",
        "experiment": {"primary": {"metric": "conversion"}},
        "variants": [
            {"name": "A", "version": "1", "weight": 50},
            {"name": "B", "version": "2", "weight": 50},
        ],
        "feedback_metrics": [FEEDBACK],
    }
    d.run("rollouts.create", spec)
    assert d.weights("m") == [("A", "1", 50.0), ("B", "2", 50.0)]
    d.run("rollouts.conclude", {"state": "stopped", "reason": "srm"}, id="m-1")
    assert d.weights("m") == [("default", "1", 100.0)]
    bad = {**spec, "variants": [{**spec["variants"][0], "weight": 60}, spec["variants"][1]]}
    with pytest.raises(Rejected, match="add up to 110"):
        d.run("rollouts.create", bad)


def test_feedback_reaches_the_arm_of_its_prediction():
    analyses = Analyses()
    d = Domain()
    check = {"metric": "conversion", "margin": 0.05, "higher_is_better": True}
    spec = {**CANARY, "checks": [check], "feedback_metrics": [FEEDBACK],
            "analysis": {"min_samples": 50}}  # fmt: skip
    d.run("rollouts.create", spec)
    analyses.update(d.store.get("rollout", "fraud-1"))
    for i in range(400):
        for variant, version in (("baseline", "1"), ("canary", "2")):
            analyses.observe_prediction({"model": "fraud", "variant": variant, "version": version,
                                         "status": "OK", "event_id": f"{variant}{i}"})  # fmt: skip
            converted = variant == "baseline" or i % 3 == 0  # the canary converts far less
            analyses.observe_feedback({"model": "fraud", "event_id": f"{variant}{i}",
                                       "label": "yes" if converted else "no"})  # fmt: skip
    analyses.observe_feedback({"model": "fraud", "event_id": "unknown", "label": "yes"})
    [command] = analyses.tick(now_ms=60_000)
    assert (command.name, command.body["check"]) == ("rollouts.rollback", "conversion")


def test_accuracy_from_feedback_is_a_quality_check():
    analyses = Analyses()
    d = Domain()
    spec = {**CANARY, "checks": [{"metric": "accuracy", "margin": 0.05}],
            "analysis": {"min_samples": 50}}  # fmt: skip
    d.run("rollouts.create", spec)
    assert d.rollout()["checks"][0]["higher_is_better"] is True
    analyses.update(d.store.get("rollout", "fraud-1"))
    for i in range(600):
        for variant, version, right in (("baseline", "1", True), ("canary", "2", i % 4 != 0)):
            event = f"{variant}{i}"
            analyses.observe_prediction({"model": "fraud", "variant": variant, "version": version,
                                         "status": "OK", "event_id": event,
                                         "prediction_label": "fraud"})  # fmt: skip
            truth = "fraud" if right else "legit"
            analyses.observe_feedback({"model": "fraud", "event_id": event, "label": truth})
    [command] = analyses.tick(now_ms=60_000)
    assert (command.name, command.body["check"]) == ("rollouts.rollback", "accuracy")


def test_the_shipped_canary_spec_is_a_valid_rollout():
    from pathlib import Path

    import yaml

    from services.rollout.plan import plan

    spec = yaml.safe_load((Path(__file__).parent.parent / "deploy/rollouts/fraud.yaml").read_text())
    planned = plan(spec)
    assert planned["steps"] == [1.0, 5.0, 25.0, 50.0]
    assert [c["metric"] for c in planned["checks"]] == ["error_rate", "latency_p99"]
