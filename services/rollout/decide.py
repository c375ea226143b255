"""The rollout service's decisions: each command checked against the current state and
turned into events, and the fold that turns events back into entities. No Kafka here.

Entities: ``rollout`` (key: ``<model>-<n>``; its spec, state, step and timeline) and
``routing`` (key: the model; the live split, the rollout holding the model, how many
rollouts it had). A routing change is the split every SDK reads (the service's outbox
writes it to the ``routing`` topic in the same transaction).

States: canary ``starting`` (pre-rollout hooks) -> ``progressing`` (steps; ``paused`` by
hand) -> ``confirming`` (confirm-promotion hooks) -> ``promoting`` (the alias moves) ->
``promoted``; or ``rolled_back`` / ``aborted`` from any of them. Blue-green ``active``
(switch and roll back at will) -> ``completed`` once the version switched away from is
no longer kept ready. A/B ``running`` -> ``concluded`` (a verdict) or ``stopped`` (sample
ratio mismatch, a guardrail) or ``aborted``.

>>> from watchkeeper.control import Command, Store
>>> store = Store(Rollouts())
>>> def run(name, body, key, **path):
...     batch = store.overlay()
...     answer = batch.submit(Command(name, body, "alice", key, path=path, at_ms=1000))
...     store.merge(batch)
...     return answer.body
>>> run("rollouts.create", {"model": "fraud", "strategy": "canary", "baseline": "1",
...                         "candidate": "2", "steps": [10, 50, 100]}, "k1")["id"]
'fraud-1'
>>> store.get("routing", "fraud").data["split"]["variants"][1]
{'name': 'canary', 'version': '2', 'weight': 10.0}
>>> run("rollouts.create", {"model": "fraud", "strategy": "bluegreen", "baseline": "1",
...                         "candidate": "2"}, "k2")
Traceback (most recent call last):
...
watchkeeper.control.commands.Rejected: model fraud is rolling out already: fraud-1 is progressing
>>> run("rollouts.advance", {"step": 0}, "k3", id="fraud-1")["state"]
'progressing'
>>> run("rollouts.advance", {"step": 1}, "k4", id="fraud-1")["state"]
'promoting'
>>> run("rollouts.promoted", {"detail": "champion -> 2"}, "k5", id="fraud-1")["state"]
'promoted'
>>> store.get("routing", "fraud").data["split"]["variants"]
[{'name': 'default', 'version': '2', 'weight': 100.0}]
"""

from __future__ import annotations

from typing import Any

from watchkeeper.control import Command, Decision, Dispatch, Entity, Event, Rejected, View

from . import plan as plans

ACTIVE = {"starting", "progressing", "paused", "confirming", "promoting", "active", "running"}


def hooks_of(spec: dict[str, Any], phase: str) -> list[dict[str, Any]]:
    return [h for h in spec.get("hooks", []) if h["type"] == phase]


class Rollouts(Dispatch):
    # -- helpers --------------------------------------------------------------------------

    def _rollout(self, view: View, c: Command, *states: str) -> Entity:
        rollout = view.expect("rollout", c.path["id"], c.expected_version)
        if rollout is None:
            raise Rejected(404, f"no rollout {c.path['id']!r}")
        if states and rollout.data["state"] not in states:
            raise Rejected(
                409, f"rollout {rollout.key} is {rollout.data['state']}, not {' or '.join(states)}"
            )
        return rollout

    @staticmethod
    def _route(decision: Decision, view: View, model: str, split, active: str | None) -> None:
        data: dict[str, Any] = {"model": model, "split": split.to_dict()}
        if active is not None:
            data["active"] = active
        decision.add("routing", model, "routing.set", data)

    @staticmethod
    def _change(decision: Decision, rollout: Entity, type_: str, change: dict, reason="") -> None:
        decision.add("rollout", rollout.key, type_, change, reason)

    def _answer(self, rollout: Entity, change: dict[str, Any]) -> Decision:
        return Decision(200, {"id": rollout.key, **{"state": rollout.data["state"]}, **change})

    # -- creating -------------------------------------------------------------------------

    def _rollouts_create(self, view: View, c: Command) -> Decision:
        spec = plans.plan(c.body)
        model = spec["model"]
        routing = view.get("routing", model)
        held = routing.data.get("active", "") if routing else ""
        if held:
            state = view.get("rollout", held)
            raise Rejected(
                409,
                f"model {model} is rolling out already: {held} is "
                f"{state.data['state'] if state else 'unknown'}",
            )
        count = (routing.data.get("count", 0) if routing else 0) + 1
        rid = f"{model}-{count}"
        strategy = spec["strategy"]
        data = {
            **spec,
            "id": rid,
            "created_ms": c.at_ms,
            "step": 0,
            "step_started_ms": c.at_ms,
            "hooked": [],
            "verdict": None,
        }
        if strategy == "canary":
            starting = bool(hooks_of(spec, "pre-rollout"))
            data["state"] = "starting" if starting else "progressing"
            split = (
                plans.single(model, spec["baseline"], rid)
                if starting
                else plans.canary_split(spec, 0, rid)
            )
        elif strategy == "bluegreen":
            data.update(
                state="active", active="blue", switches=0, ready_until_ms=None, alias_pending=None
            )
            split = plans.bluegreen_split(spec, "blue", rid)
        else:
            data["state"] = "running"
            split = plans.experiment_split(spec, rid)
        decision = Decision(201, {"id": rid, "state": data["state"], "model": model})
        decision.add("rollout", rid, "rollout.created", data, spec.get("reason", ""))
        self._route(decision, view, model, split, rid)
        decision.events[-1][3]["count"] = count
        if routing and routing.data.get("alert"):
            # the last rollback's alert resolves when the model's next rollout starts
            decision.events[-1][3].update(alert=None, resolves=routing.data["alert"])
        return decision

    # -- canary ---------------------------------------------------------------------------

    def _rollouts_started(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, "starting")
        spec = rollout.data
        decision = self._answer(rollout, {"state": "progressing"})
        change = {"state": "progressing", "step": 0, "step_started_ms": c.at_ms}
        self._change(decision, rollout, "rollout.started", change, "pre-rollout hooks passed")
        self._route(decision, view, spec["model"], plans.canary_split(spec, 0, rollout.key), None)
        return decision

    def _rollouts_advance(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, "progressing")
        spec, step = rollout.data, c.body["step"]
        if step != spec["step"]:
            raise Rejected(409, f"rollout {rollout.key} is at step {spec['step']}, not {step}")
        reason = c.body.get("reason", "")
        if step + 1 < len(spec["steps"]):
            change = {"step": step + 1, "step_started_ms": c.at_ms, "last_verdict": reason}
            decision = self._answer(rollout, {"state": "progressing", "step": step + 1})
            self._change(decision, rollout, "rollout.advanced", change, reason)
            split = plans.canary_split(spec, step + 1, rollout.key)
            self._route(decision, view, spec["model"], split, None)
            return decision
        state = "confirming" if hooks_of(spec, "confirm-promotion") else "promoting"
        decision = self._answer(rollout, {"state": state})
        self._change(
            decision, rollout, "rollout.passed", {"state": state, "last_verdict": reason}, reason
        )
        return decision

    def _rollouts_confirmed(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, "confirming")
        decision = self._answer(rollout, {"state": "promoting"})
        self._change(
            decision,
            rollout,
            "rollout.confirmed",
            {"state": "promoting"},
            c.body.get("reason", "confirm-promotion hooks passed"),
        )
        return decision

    def _rollouts_promoted(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, "promoting")
        spec = rollout.data
        decision = self._answer(rollout, {"state": "promoted"})
        detail = c.body.get("detail", "")
        self._change(
            decision,
            rollout,
            "rollout.promoted",
            {"state": "promoted", "ended_ms": c.at_ms, "promotion": detail},
            detail,
        )
        split = plans.single(spec["model"], spec["candidate"], rollout.key)
        self._route(decision, view, spec["model"], split, "")
        return decision

    def _rollouts_rollback(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c)
        spec = rollout.data
        if spec["strategy"] == "bluegreen":
            return self._bluegreen_rollback(view, c, rollout)
        if spec["strategy"] != "canary" or spec["state"] not in ACTIVE - {"promoting"}:
            raise Rejected(409, f"rollout {rollout.key} is {spec['state']}: nothing to roll back")
        step = c.body.get("step")
        if step is not None and step != spec["step"]:
            raise Rejected(409, f"rollout {rollout.key} is at step {spec['step']}, not {step}")
        reason = c.body.get("reason", "") or f"rolled back by {c.actor}"
        change = {
            "state": "rolled_back",
            "ended_ms": c.at_ms,
            "rollback": {
                "reason": reason,
                "check": c.body.get("check", ""),
                "interval": c.body.get("interval"),
                "step": spec["step"],
                "by": c.actor,
            },
        }
        decision = self._answer(rollout, {"state": "rolled_back", "reason": reason})
        self._change(decision, rollout, "rollout.rolled_back", change, reason)
        split = plans.single(spec["model"], spec["baseline"], rollout.key)
        self._route(decision, view, spec["model"], split, "")
        decision.events[-1][3]["alert"] = {
            "version": spec["candidate"],
            "rollout": rollout.key,
            "reason": reason,
            "at_ms": c.at_ms,
        }
        return decision

    # -- by hand --------------------------------------------------------------------------

    def _rollouts_pause(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, "progressing", "running")
        decision = self._answer(rollout, {"state": "paused"})
        change = {"state": "paused", "paused_from": rollout.data["state"]}
        self._change(decision, rollout, "rollout.paused", change, c.body.get("reason", ""))
        return decision

    def _rollouts_resume(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, "paused")
        state = rollout.data.get("paused_from", "progressing")
        decision = self._answer(rollout, {"state": state})
        # The step's clock starts again: its deadline counts from the resumption.
        change = {"state": state, "step_started_ms": c.at_ms}
        self._change(decision, rollout, "rollout.resumed", change, c.body.get("reason", ""))
        return decision

    def _rollouts_abort(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, *sorted(ACTIVE - {"promoting"}))
        spec = rollout.data
        reason = c.body.get("reason", "") or f"aborted by {c.actor}"
        decision = self._answer(rollout, {"state": "aborted", "reason": reason})
        change = {"state": "aborted", "ended_ms": c.at_ms, "abort_reason": reason}
        self._change(decision, rollout, "rollout.aborted", change, reason)
        if spec["strategy"] == "canary":
            version = spec["baseline"]
        elif spec["strategy"] == "bluegreen":
            version = spec["baseline"] if spec["active"] == "blue" else spec["candidate"]
        else:
            version = spec["variants"][0]["version"]
        self._route(
            decision, view, spec["model"], plans.single(spec["model"], version, rollout.key), ""
        )
        return decision

    # -- blue-green -----------------------------------------------------------------------

    def _rollouts_switch(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, "active")
        if rollout.data["strategy"] != "bluegreen":
            raise Rejected(
                409, f"rollout {rollout.key} is a {rollout.data['strategy']}, not blue-green"
            )
        return self._flip(view, c, rollout, c.body.get("reason", "") or f"switched by {c.actor}")

    def _bluegreen_rollback(self, view: View, c: Command, rollout: Entity) -> Decision:
        spec = rollout.data
        if spec["state"] != "active" or not spec.get("switches"):
            raise Rejected(409, f"rollout {rollout.key} has no earlier version to go back to")
        return self._flip(view, c, rollout, c.body.get("reason", "") or f"rolled back by {c.actor}")

    def _flip(self, view: View, c: Command, rollout: Entity, reason: str) -> Decision:
        spec = rollout.data
        active = "green" if spec["active"] == "blue" else "blue"
        version = spec["candidate"] if active == "green" else spec["baseline"]
        change = {
            "active": active,
            "switches": spec["switches"] + 1,
            "alias_pending": version,
            "ready_until_ms": c.at_ms + int(spec["keep_ready_s"] * 1000),
        }
        decision = self._answer(rollout, {"active": active, "version": version})
        self._change(decision, rollout, "rollout.switched", change, reason)
        split = plans.bluegreen_split(spec, active, rollout.key)
        self._route(decision, view, spec["model"], split, None)
        return decision

    def _rollouts_retire(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, "active")
        spec = rollout.data
        until = spec.get("ready_until_ms")
        if until is None or c.at_ms < until or spec.get("alias_pending"):
            raise Rejected(409, f"rollout {rollout.key} keeps its other version ready")
        version = spec["candidate"] if spec["active"] == "green" else spec["baseline"]
        decision = self._answer(rollout, {"state": "completed"})
        change = {"state": "completed", "ended_ms": c.at_ms}
        self._change(decision, rollout, "rollout.completed", change, "the other version retired")
        split = plans.single(spec["model"], version, rollout.key)
        self._route(decision, view, spec["model"], split, "")
        return decision

    # -- A/B ------------------------------------------------------------------------------

    def _rollouts_conclude(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c, "running")
        spec = rollout.data
        state, reason = c.body["state"], c.body.get("reason", "")
        if state not in ("concluded", "stopped"):
            raise Rejected(400, f"an experiment is concluded or stopped, not {state!r}")
        decision = self._answer(rollout, {"state": state, "reason": reason})
        change = {"state": state, "ended_ms": c.at_ms, "verdict": c.body.get("verdict")}
        self._change(decision, rollout, f"rollout.{state}", change, reason)
        control = spec["variants"][0]["version"]
        self._route(
            decision, view, spec["model"], plans.single(spec["model"], control, rollout.key), ""
        )
        return decision

    # -- what the reconciler reports ------------------------------------------------------

    def _rollouts_aliased(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c)
        if rollout.data.get("alias_pending") != c.body["version"]:
            return self._answer(rollout, {"alias_pending": rollout.data.get("alias_pending")})
        decision = self._answer(rollout, {"alias_pending": None})
        self._change(
            decision, rollout, "rollout.aliased", {"alias_pending": None}, c.body.get("detail", "")
        )
        return decision

    def _rollouts_hooked(self, view: View, c: Command) -> Decision:
        rollout = self._rollout(view, c)
        mark = c.body["mark"]  # "<phase>:<step>": called once per phase and step
        if mark in rollout.data.get("hooked", []):
            return self._answer(rollout, {"hooked": mark})
        decision = self._answer(rollout, {"hooked": mark})
        hooked = [*rollout.data.get("hooked", []), mark]
        self._change(
            decision, rollout, "rollout.hooked", {"hooked": hooked}, c.body.get("detail", "")
        )
        return decision

    # -- folding --------------------------------------------------------------------------

    def fold(self, entity: Entity | None, event: Event) -> dict[str, Any]:
        data = dict(entity.data) if entity is not None else {}
        if event.kind == "routing":
            return {**data, **event.data}
        if event.type == "rollout.created":
            data = dict(event.data)
            data["timeline"] = []
        else:
            data.update(event.data)
        audit = event.audit
        entry = {
            "at_ms": audit.at_ms,
            "event": event.type.removeprefix("rollout."),
            "by": audit.actor,
            "reason": audit.reason,
            "state": data.get("state"),
            "step": data.get("step"),
        }
        data["timeline"] = [*data.get("timeline", []), entry]
        return data
