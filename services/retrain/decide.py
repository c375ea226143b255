"""The retrain service's decisions: triggers gathered per model, runs with their timeline
from the first trigger to a promoted (or rolled back, rejected, failed) candidate, and
the fold of their events. No Kafka here.

Entities: ``model`` (key: the model; the triggers waiting, the run in flight, when the
last run ended, failures in a row, how many runs it had) and ``run`` (key:
``<model>-<n>``).

Run states: ``launching`` -> ``running`` (the pipeline reports progress) -> ``candidate``
(it reported one: the registry registers it) -> ``validating`` -> ``awaiting_approval``
or ``approved`` -> ``rolling_out`` -> ``promoted`` | ``rolled_back``; or ``rejected``,
``expired``, ``failed``, ``cancelled``.

>>> from watchkeeper.control import Command, Store
>>> store = Store(Retrains())
>>> def run(name, body, key, **path):
...     batch = store.overlay()
...     answer = batch.submit(Command(name, body, "drift", key, path=path, at_ms=1000))
...     store.merge(batch)
...     return answer.body
>>> drift = {"model": "fraud", "version": "3", "kind": "drift", "reason": "psi 0.3 on amount",
...          "dedup_key": "fraud:3:amount"}
>>> [run("triggers.add", drift, f"r{i}")["merged"] for i in range(3)]
[False, True, True]
>>> run("runs.start", {"model": "fraud"}, "s1")["id"]
'fraud-1'
>>> store.get("model", "fraud").data["pending"], store.get("model", "fraud").data["in_flight"]
([], 'fraud-1')
>>> run("triggers.add", drift, "r9")["merged"]   # the run in flight took that key
True
"""

from __future__ import annotations

from typing import Any

from watchkeeper.control import Command, Decision, Dispatch, Entity, Event, Rejected, View

TERMINAL = ("promoted", "rolled_back", "rejected", "expired", "failed", "cancelled")
ACTIVE_CALLBACK = ("launching", "running")


class Retrains(Dispatch):
    def _run(self, view: View, c: Command, *states: str) -> Entity:
        run = view.expect("run", c.path["id"], c.expected_version)
        if run is None:
            raise Rejected(404, f"no run {c.path['id']!r}")
        if states and run.data["state"] not in states:
            raise Rejected(409, f"run {run.key} is {run.data['state']}, not {' or '.join(states)}")
        return run

    def _step(self, run: Entity, type_: str, change: dict, reason: str = "") -> Decision:
        decision = Decision(200, {"id": run.key, "state": change.get("state", run.data["state"])})
        decision.add("run", run.key, type_, change, reason)
        return decision

    # -- triggers -------------------------------------------------------------------------

    def _triggers_add(self, view: View, c: Command) -> Decision:
        body = c.body
        model = view.get("model", body["model"])
        data = model.data if model else {"pending": [], "in_flight": "", "runs": 0}
        taken = {t["dedup_key"] for t in data["pending"]}
        if data["in_flight"]:
            flight = view.get("run", data["in_flight"])
            taken |= {t["dedup_key"] for t in flight.data["triggers"]} if flight else set()
        trigger = {
            "kind": body["kind"],
            "reason": body.get("reason", ""),
            "dedup_key": body["dedup_key"],
            "version": body.get("version", ""),
            "evidence": body.get("evidence", {}),
            "at_ms": c.at_ms,
            "by": c.actor,
        }
        merged = trigger["dedup_key"] in taken
        decision = Decision(202, {"model": body["model"], "merged": merged})
        if not merged:
            decision.add("model", body["model"], "trigger.added", {"trigger": trigger})
        return decision

    def _runs_start(self, view: View, c: Command) -> Decision:
        name = c.body["model"]
        model = view.get("model", name)
        if model is None or not model.data["pending"]:
            raise Rejected(409, f"model {name} has no trigger waiting")
        if model.data["in_flight"]:
            raise Rejected(409, f"model {name} has a run in flight: {model.data['in_flight']}")
        number = model.data["runs"] + 1
        rid = f"{name}-{number}"
        triggers = model.data["pending"]
        version = next((t["version"] for t in reversed(triggers) if t["version"]), "")
        run = {"id": rid, "model": name, "version": version, "number": number,
               "triggers": triggers, "state": "launching", "created_ms": c.at_ms,
               "launched": None, "candidate": None, "validation": None, "approval": None,
               "rollout": None, "progress": []}  # fmt: skip
        reasons = "; ".join(f"{t['kind']}: {t['reason']}" for t in triggers)
        decision = Decision(201, {"id": rid, "state": "launching"})
        decision.add("run", rid, "run.created", run, reasons)
        decision.add("model", name, "run.started", {"run": rid, "runs": number})
        return decision

    # -- the pipeline ---------------------------------------------------------------------

    def _runs_launched(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, "launching")
        change = {"state": "running", "launched": dict(c.body)}
        return self._step(run, "run.launched", change, c.body.get("detail", ""))

    def _runs_callback(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, *ACTIVE_CALLBACK)
        kind = c.body["kind"]
        if kind == "progress":
            progress = [*run.data["progress"], {"at_ms": c.at_ms, "message": c.body["message"]}]
            return self._step(run, "run.progress", {"progress": progress[-100:]},
                              c.body["message"])  # fmt: skip
        if kind == "failed":
            return self._fail(view, run, c, c.body["reason"])
        candidate = {k: c.body[k] for k in ("version", "artifact_uri", "metrics", "datasets",
                                            "params") if k in c.body}  # fmt: skip
        return self._step(run, "run.candidate", {"state": "candidate", "candidate": candidate},
                          f"candidate {candidate['version']}")  # fmt: skip

    def _runs_registered(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, "candidate")
        return self._step(run, "run.registered", {"state": "validating"}, c.body.get("detail", ""))

    def _runs_validated(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, "validating")
        validation = {"passed": c.body["passed"], "metrics": c.body.get("metrics", {}),
                      "details": c.body.get("details", ""), "at_ms": c.at_ms}  # fmt: skip
        if not validation["passed"]:
            decision = self._fail(view, run, c, f"validation failed: {validation['details']}")
            decision.events[0][3]["validation"] = validation
            return decision
        auto = c.body.get("auto_approved", False)
        state = "approved" if auto else "awaiting_approval"
        change: dict[str, Any] = {"state": state, "validation": validation}
        if auto:
            change["approval"] = {"decision": "approved", "by": "policy", "at_ms": c.at_ms,
                                  "reason": c.body.get("approval_reason", "")}  # fmt: skip
        else:
            change["approval_expires_ms"] = c.at_ms + int(c.body.get("expiry_s", 86_400) * 1000)
        return self._step(run, "run.validated", change, validation["details"])

    def _runs_approve(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, "awaiting_approval")
        approval = {"decision": "approved", "by": c.actor, "at_ms": c.at_ms,
                    "reason": c.body.get("reason", "")}  # fmt: skip
        return self._step(run, "run.approved", {"state": "approved", "approval": approval},
                          approval["reason"])  # fmt: skip

    def _runs_reject(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, "awaiting_approval")
        approval = {"decision": "rejected", "by": c.actor, "at_ms": c.at_ms,
                    "reason": c.body.get("reason", "")}  # fmt: skip
        return self._end(view, run, c, "rejected", {"approval": approval}, approval["reason"])

    def _runs_expire(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, "awaiting_approval")
        if c.at_ms < run.data["approval_expires_ms"]:
            raise Rejected(409, f"run {run.key}'s approval has not expired")
        return self._end(view, run, c, "expired", {}, "nobody approved in time")

    def _runs_rollout(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, "approved")
        change = {"state": "rolling_out", "rollout": {"id": c.body["rollout"]}}
        return self._step(run, "run.rollout_started", change, c.body["rollout"])

    def _runs_rolled(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, "rolling_out")
        outcome = c.body["state"]
        if outcome not in ("promoted", "rolled_back"):
            raise Rejected(400, f"a rollout ends promoted or rolled_back, not {outcome!r}")
        rollout = {**run.data["rollout"], "state": outcome, "reason": c.body.get("reason", "")}
        failed = outcome != "promoted"
        return self._end(view, run, c, outcome, {"rollout": rollout}, rollout["reason"], failed)

    def _runs_fail(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, *[s for s in _STATES if s not in TERMINAL])
        return self._fail(view, run, c, c.body["reason"])

    def _runs_cancel(self, view: View, c: Command) -> Decision:
        run = self._run(view, c, *[s for s in _STATES if s not in TERMINAL])
        reason = c.body.get("reason", "") or f"cancelled by {c.actor}"
        return self._end(view, run, c, "cancelled", {}, reason)

    def _fail(self, view: View, run: Entity, c: Command, reason: str) -> Decision:
        return self._end(view, run, c, "failed", {"failure": reason}, reason, failed=True)

    def _end(self, view, run, c, state, change, reason, failed=False) -> Decision:
        decision = self._step(run, f"run.{state}", {**change, "state": state,
                                                     "ended_ms": c.at_ms}, reason)  # fmt: skip
        model = view.get("model", run.data["model"])
        failures = (model.data.get("failures", 0) + 1) if failed and model else 0
        decision.add("model", run.data["model"], "run.ended",
                     {"run": run.key, "ended_ms": c.at_ms, "failures": failures})  # fmt: skip
        return decision

    # -- folding --------------------------------------------------------------------------

    def fold(self, entity: Entity | None, event: Event) -> dict[str, Any]:
        data = dict(entity.data) if entity is not None else {}
        change = event.data
        if event.kind == "model":
            data = data or {"pending": [], "in_flight": "", "runs": 0, "last_ended_ms": None,
                            "failures": 0}  # fmt: skip
            if event.type == "trigger.added":
                return {**data, "pending": [*data["pending"], change["trigger"]]}
            if event.type == "run.started":
                return {**data, "pending": [], "in_flight": change["run"], "runs": change["runs"]}
            if event.type == "run.ended":
                return {**data, "in_flight": "", "last_ended_ms": change["ended_ms"],
                        "failures": change["failures"]}  # fmt: skip
            raise ValueError(f"unknown event type {event.type!r}")
        data = dict(change) if event.type == "run.created" else {**data, **change}
        entry = {"at_ms": event.audit.at_ms, "event": event.type.removeprefix("run."),
                 "by": event.audit.actor, "reason": event.audit.reason,
                 "state": data.get("state")}  # fmt: skip
        data["timeline"] = (
            [*data.get("timeline", []), entry] if event.type != "run.created" else [entry]
        )
        return data


_STATES = ("launching", "running", "candidate", "validating", "awaiting_approval", "approved",
           "rolling_out", *TERMINAL)  # fmt: skip
