"""The registry's decisions: each command checked against the current state and turned
into events, and the fold that turns events back into entities. No Kafka here.

Entities: ``model`` (key: name; holds its aliases), ``version`` (key ``model:version``),
``dataset`` (key ``name:version``), ``job`` (an OpenLineage job, key ``namespace:name``)
and ``stream`` (the live predictions of ``model:version``).

>>> from watchkeeper.control import Command, Store
>>> from services.registry.config import load_policy_text
>>> store = Store(Registry(load_policy_text("defaults: {compare: {auc: higher}}")))
>>> def run(name, body, **path):
...     batch = store.overlay()
...     answer = batch.submit(Command(name, body, "alice", f"k{store.events}", path=path))
...     store.merge(batch)
...     return answer.status
>>> run("models.create", {"name": "fraud"})
201
>>> run("versions.register", {"version": "1", "metrics": {"auc": 0.8}}, model="fraud")
201
>>> run("aliases.set", {"version": "1"}, model="fraud", alias="champion")
Traceback (most recent call last):
...
watchkeeper.control.commands.Rejected: fraud version 1 has no passing validation
>>> run("versions.validate", {"passed": True}, model="fraud", version="1")
201
>>> run("aliases.set", {"version": "1", "reason": "first"}, model="fraud", alias="champion")
200
>>> store.get("model", "fraud").data["aliases"]
{'champion': '1'}
"""

from __future__ import annotations

from typing import Any

from watchkeeper.control import Command, Decision, Dispatch, Entity, Event, Rejected, View
from watchkeeper.kit.permodel import PerModel

from .config import AliasPolicy
from .gate import check_move

RESERVED_ALIASES = {"latest"}


def version_key(model: str, version: str) -> str:
    return f"{model}:{version}"


class Registry(Dispatch):
    def __init__(self, policy: PerModel[AliasPolicy]) -> None:
        self.policy = policy

    # -- deciding -------------------------------------------------------------------------

    def _live_model(self, view: View, name: str, expected: int | None = None) -> Entity:
        model = view.expect("model", name, expected)
        if model is None or model.deleted:
            raise Rejected(404, f"no model {name!r}")
        return model

    def _live_version(self, view: View, model: str, version: str, expected=None) -> Entity:
        self._live_model(view, model)
        found = view.expect("version", version_key(model, version), expected)
        if found is None or found.deleted:
            raise Rejected(404, f"no version {version!r} of model {model!r}")
        return found

    def _models_create(self, view: View, c: Command) -> Decision:
        name = c.body["name"]
        existing = view.get("model", name)
        if existing is not None and not existing.deleted:
            raise Rejected(409, f"model {name!r} exists")
        data = {
            "name": name,
            "description": c.body.get("description", ""),
            "owner_team": c.body.get("owner_team", ""),
            "tags": c.body.get("tags", {}),
        }
        decision = Decision(201, data)
        decision.add("model", name, "model.created", data)
        return decision

    def _models_update(self, view: View, c: Command) -> Decision:
        name = c.path["name"]
        self._live_model(view, name, c.expected_version)
        decision = Decision(200, {"name": name})
        decision.add("model", name, "model.updated", dict(c.body))
        return decision

    def _models_delete(self, view: View, c: Command) -> Decision:
        name = c.path["name"]
        self._live_model(view, name, c.expected_version)
        decision = Decision(200, {"name": name, "deleted": True})
        reason = c.body.get("reason", "")
        decision.add("model", name, "model.deleted", {"reason": reason}, reason)
        return decision

    def _versions_register(self, view: View, c: Command) -> Decision:
        model = c.path["model"]
        self._live_model(view, model)
        version = c.body["version"]
        key = version_key(model, version)
        existing = view.get("version", key)
        if existing is not None and not existing.deleted:
            raise Rejected(409, f"model {model!r} has a version {version!r}")
        for field in ("training_datasets", "evaluation_datasets"):
            for ref in c.body.get(field, []):
                dataset = view.get("dataset", version_key(ref["name"], ref["version"]))
                if dataset is None or dataset.deleted:
                    raise Rejected(
                        400, f"{field}: no dataset {ref['name']!r} version {ref['version']!r}"
                    )
        data = {
            "model": model,
            "status": "ready",
            **c.body,
            "created_by": c.actor,
            "created_at_ms": c.at_ms,
        }
        decision = Decision(201, {"model": model, "version": version})
        decision.add("version", key, "version.registered", data)
        return decision

    def _versions_update(self, view: View, c: Command) -> Decision:
        model, version = c.path["model"], c.path["version"]
        self._live_version(view, model, version, c.expected_version)
        decision = Decision(200, {"model": model, "version": version})
        decision.add("version", version_key(model, version), "version.updated", dict(c.body))
        return decision

    def _versions_delete(self, view: View, c: Command) -> Decision:
        model, version = c.path["model"], c.path["version"]
        self._live_version(view, model, version, c.expected_version)
        holding = [a for a, v in view.get("model", model).data["aliases"].items() if v == version]
        if holding:
            raise Rejected(409, f"version {version!r} holds aliases {holding}: move them first")
        reason = c.body.get("reason", "")
        decision = Decision(200, {"model": model, "version": version, "deleted": True})
        decision.add(
            "version", version_key(model, version), "version.deleted", {"reason": reason}, reason
        )
        return decision

    def _versions_validate(self, view: View, c: Command) -> Decision:
        model, version = c.path["model"], c.path["version"]
        self._live_version(view, model, version, c.expected_version)
        record = {
            "passed": c.body["passed"],
            "metrics": c.body.get("metrics", {}),
            "validator": c.body.get("validator", "") or c.actor,
            "details": c.body.get("details", ""),
            "at_ms": c.at_ms,
        }
        decision = Decision(201, {"model": model, "version": version, **record})
        decision.add("version", version_key(model, version), "version.validated", record)
        return decision

    def _aliases_set(self, view: View, c: Command) -> Decision:
        model, alias = c.path["model"], c.path["alias"]
        version, reason, force = c.body["version"], c.body.get("reason", ""), c.body.get("force")
        if alias in RESERVED_ALIASES:
            raise Rejected(400, f"the alias {alias!r} is reserved")
        entity = self._live_model(view, model, c.expected_version)
        candidate = self._live_version(view, model, version)
        previous = entity.data["aliases"].get(alias)
        if previous == version:
            return Decision(200, {"model": model, "alias": alias, "version": version})
        held = view.get("version", version_key(model, previous)) if previous else None
        policy = self.policy.for_model(model)
        forced = False
        if alias in policy.gated_aliases:
            if force:
                if not c.admin:
                    raise Rejected(403, "forcing a gated alias move needs the admin scope")
                if not reason.strip():
                    raise Rejected(400, "a forced move needs a reason")
                forced = True
            else:
                refusal = check_move(policy, model, candidate.data, held.data if held else None)
                if refusal:
                    raise Rejected(409, refusal)
        data = {"alias": alias, "version": version, "previous": previous, "forced": forced}
        decision = Decision(200, {"model": model, **data, "reason": reason})
        decision.add("model", model, "alias.set", {**data, "reason": reason}, reason)
        return decision

    def _aliases_delete(self, view: View, c: Command) -> Decision:
        model, alias = c.path["model"], c.path["alias"]
        entity = self._live_model(view, model, c.expected_version)
        previous = entity.data["aliases"].get(alias)
        if previous is None:
            raise Rejected(404, f"model {model!r} has no alias {alias!r}")
        reason = c.body.get("reason", "")
        decision = Decision(200, {"model": model, "alias": alias, "deleted": True})
        decision.add(
            "model", model, "alias.deleted", {"alias": alias, "previous": previous}, reason
        )
        return decision

    def _datasets_register(self, view: View, c: Command) -> Decision:
        name, version = c.body["name"], c.body["version"]
        key = version_key(name, version)
        existing = view.get("dataset", key)
        if existing is not None and not existing.deleted:
            raise Rejected(409, f"dataset {name!r} has a version {version!r}")
        data = {**c.body, "created_by": c.actor, "created_at_ms": c.at_ms}
        decision = Decision(201, {"name": name, "version": version})
        decision.add("dataset", key, "dataset.registered", data)
        return decision

    def _datasets_delete(self, view: View, c: Command) -> Decision:
        name, version = c.path["name"], c.path["version"]
        key = version_key(name, version)
        found = view.expect("dataset", key, c.expected_version)
        if found is None or found.deleted:
            raise Rejected(404, f"no dataset {name!r} version {version!r}")
        reason = c.body.get("reason", "")
        decision = Decision(200, {"name": name, "version": version, "deleted": True})
        decision.add("dataset", key, "dataset.deleted", {"reason": reason}, reason)
        return decision

    def _lineage_record(self, view: View, c: Command) -> Decision:
        # Validated against the OpenLineage spec before it became a command.
        job = c.body["job"]
        key = f"{job['namespace']}:{job['name']}"
        decision = Decision(201, {"job": key, "run": c.body.get("run", {}).get("runId")})
        decision.add("job", key, "lineage.received", {"event": c.body})
        return decision

    def _streams_seen(self, view: View, c: Command) -> Decision:
        key = version_key(c.body["model"], c.body["version"])
        decision = Decision(200, {"stream": key})
        decision.add("stream", key, "stream.seen", dict(c.body))
        return decision

    # -- folding --------------------------------------------------------------------------

    def fold(self, entity: Entity | None, event: Event) -> dict[str, Any]:
        data = dict(entity.data) if entity is not None else {}
        change = event.data
        kind = event.type
        if kind == "model.created":
            audit = event.audit
            return {
                **change,
                "aliases": {},
                "deleted": False,
                "created_by": audit.actor,
                "created_at_ms": audit.at_ms,
            }
        if kind in ("model.updated", "version.updated"):
            tags = {**data.get("tags", {}), **change.get("tags", {})}
            for tag in change.get("remove_tags", []):
                tags.pop(tag, None)
            rest = {k: v for k, v in change.items() if k not in ("tags", "remove_tags")}
            if "metrics" in rest:
                rest["metrics"] = {**data.get("metrics", {}), **rest["metrics"]}
            return {**data, **rest, "tags": tags}
        if kind.endswith(".deleted") and kind != "alias.deleted":
            return {**data, "deleted": True, "deleted_reason": change.get("reason", "")}
        if kind == "alias.set":
            return {**data, "aliases": {**data["aliases"], change["alias"]: change["version"]}}
        if kind == "alias.deleted":
            aliases = {a: v for a, v in data["aliases"].items() if a != change["alias"]}
            return {**data, "aliases": aliases}
        if kind == "version.registered":
            return {"tags": {}, **change, "validations": [], "deleted": False}
        if kind == "dataset.registered":
            return {"tags": {}, **change, "deleted": False}
        if kind == "version.validated":
            return {**data, "validations": [*data.get("validations", []), change]}
        if kind == "lineage.received":
            return {"event": change["event"], "runs": data.get("runs", 0) + 1}
        if kind == "stream.seen":
            return {**data, **change}
        raise ValueError(f"unknown event type {kind!r}")
