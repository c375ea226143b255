"""The retrain service's decisions without Kafka: triggers merge by dedup key, one run in
flight per model, the run's states from launch to promotion, and its refusals."""

from __future__ import annotations

import pytest

from services.retrain.decide import Retrains
from watchkeeper.control import Command, Rejected, Store

DRIFT = {"model": "fraud", "version": "3", "kind": "drift", "reason": "psi 0.31 on amount",
         "dedup_key": "fraud:3:amount"}  # fmt: skip


class Domain:
    def __init__(self):
        self.store = Store(Retrains())
        self.n = 0

    def run(self, name, body=None, at_ms=1000, actor="alice", **path):
        self.n += 1
        batch = self.store.overlay()
        command = Command(name, body or {}, actor, f"k{self.n}", path=path, at_ms=at_ms)
        answer = batch.submit(command)
        self.store.merge(batch)
        return answer.body

    def get(self, kind, key):
        return self.store.get(kind, key).data


def test_ten_identical_drift_requests_make_one_run():
    d = Domain()
    merged = [d.run("triggers.add", DRIFT)["merged"] for _ in range(10)]
    assert merged == [False] + [True] * 9
    assert len(d.get("model", "fraud")["pending"]) == 1
    assert d.run("runs.start", {"model": "fraud"})["id"] == "fraud-1"
    with pytest.raises(Rejected, match="no trigger waiting"):
        d.run("runs.start", {"model": "fraud"})


def test_a_trigger_during_a_run_waits_for_the_next_with_its_reason():
    d = Domain()
    d.run("triggers.add", DRIFT)
    d.run("runs.start", {"model": "fraud"})
    d.run("triggers.add", {**DRIFT, "kind": "schedule", "dedup_key": "cron:1", "reason": "weekly"})
    with pytest.raises(Rejected, match="run in flight: fraud-1"):
        d.run("runs.start", {"model": "fraud"})
    d.run("runs.fail", {"reason": "pipeline exited 1"}, id="fraud-1")
    model = d.get("model", "fraud")
    assert (model["in_flight"], model["failures"], model["last_ended_ms"]) == ("", 1, 1000)
    assert d.run("runs.start", {"model": "fraud"})["id"] == "fraud-2"
    assert [t["reason"] for t in d.get("run", "fraud-2")["triggers"]] == ["weekly"]


def test_a_run_from_launch_to_promotion_with_a_person_approving():
    d = Domain()
    d.run("triggers.add", DRIFT)
    d.run("runs.start", {"model": "fraud"})
    d.run("runs.launched", {"external_id": "pid 42"}, id="fraud-1")
    d.run("runs.callback", {"kind": "progress", "message": "trained on 9,000 rows"}, id="fraud-1")
    candidate = {"kind": "candidate", "version": "3-r1", "artifact_uri": "file:///m.pkl",
                 "metrics": {"auc": 0.93}}  # fmt: skip
    d.run("runs.callback", candidate, id="fraud-1")
    with pytest.raises(Rejected, match="is candidate, not launching or running"):
        d.run("runs.callback", candidate, id="fraud-1")
    d.run("runs.registered", {}, id="fraud-1")
    d.run("runs.validated", {"passed": True, "metrics": {"auc": 0.93}, "expiry_s": 60},
          id="fraud-1")  # fmt: skip
    assert d.get("run", "fraud-1")["approval_expires_ms"] == 61_000
    d.run("runs.approve", {"reason": "looks right"}, actor="bob", id="fraud-1")
    d.run("runs.rollout", {"rollout": "fraud-4"}, id="fraud-1")
    d.run("runs.rolled", {"state": "promoted", "reason": "every step passed"}, id="fraud-1")
    run = d.get("run", "fraud-1")
    assert run["state"] == "promoted" and run["approval"]["by"] == "bob"
    assert [e["event"] for e in run["timeline"]] == [
        "created", "launched", "progress", "candidate", "registered", "validated", "approved",
        "rollout_started", "promoted",
    ]  # fmt: skip
    assert d.get("model", "fraud")["failures"] == 0


def test_rejection_expiry_and_a_failed_validation():
    d = Domain()
    for n, end in enumerate(("reject", "expire", "invalid"), start=1):
        d.run("triggers.add", {**DRIFT, "dedup_key": f"k{n}"})
        rid = d.run("runs.start", {"model": "fraud"})["id"]
        d.run("runs.launched", {}, id=rid)
        d.run("runs.callback", {"kind": "candidate", "version": f"v{n}", "artifact_uri": "x"},
              id=rid)  # fmt: skip
        d.run("runs.registered", {}, id=rid)
        if end == "invalid":
            d.run("runs.validated", {"passed": False, "details": "auc 0.7 < 0.8"}, id=rid)
            assert d.get("run", rid)["state"] == "failed"
            assert "auc 0.7 < 0.8" in d.get("run", rid)["failure"]
            continue
        d.run("runs.validated", {"passed": True, "expiry_s": 10}, id=rid)
        if end == "reject":
            d.run("runs.reject", {"reason": "not this week"}, actor="carol", id=rid)
            approval = d.get("run", rid)["approval"]
            assert (approval["decision"], approval["by"]) == ("rejected", "carol")
            assert approval["reason"] == "not this week"
        else:
            with pytest.raises(Rejected, match="has not expired"):
                d.run("runs.expire", {}, at_ms=5000, id=rid)
            d.run("runs.expire", {}, at_ms=11_000, id=rid)
            assert d.get("run", rid)["state"] == "expired"
