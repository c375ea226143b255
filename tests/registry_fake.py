"""IN-MEMORY STAND-IN for the registry service's RegistryClient, for the MLflow interop
tests until ``services/registry`` (the real service) lands; ``registry_for_test`` in
test_registry_mlflow.py is the one place that picks it, and the real client replaces it
there. It follows docs of the contract (/work/briefs/registry-contract.md): errors are
``ApiError(status, reason)``; 409 for an existing model or version; tags merged on
update; every write recorded in ``history``; writes with a repeated ``idempotency_key``
answer what the first did.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ApiError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class FakeRegistry:
    def __init__(self) -> None:
        self.models: dict[str, dict] = {}
        self.versions: dict[str, dict[str, dict]] = {}
        self.events: dict[tuple[str, str], list[dict]] = {}
        self.seen_keys: dict[str, dict] = {}

    # -- plumbing ------------------------------------------------------------------------

    def _record(self, kind: str, key: str, event: str, **data: Any) -> None:
        self.events.setdefault((kind, key), []).append({"event": event, **data})

    def _model(self, name: str) -> dict:
        if name not in self.models:
            raise ApiError(404, f"no model {name}")
        return self.models[name]

    def _once(self, key: str | None, write) -> dict:
        if key is not None and key in self.seen_keys:
            return copy.deepcopy(self.seen_keys[key])
        result = write()
        if key is not None:
            self.seen_keys[key] = copy.deepcopy(result)
        return result

    # -- models --------------------------------------------------------------------------

    def create_model(self, name, description="", owner_team="", tags=None, idempotency_key=None):
        def write():
            if not NAME.match(name):
                raise ApiError(400, f"invalid model name {name!r}: letters, digits, . _ -")
            if name in self.models:
                raise ApiError(409, f"model {name} exists")
            self.models[name] = {
                "name": name,
                "description": description,
                "owner_team": owner_team,
                "tags": dict(tags or {}),
                "aliases": {},
                "latest_version": None,
                "deleted": False,
                "entity_version": 1,
            }
            self.versions[name] = {}
            self._record("model", name, "created")
            return copy.deepcopy(self.models[name])

        return self._once(idempotency_key, write)

    def update_model(
        self, name, description=None, owner_team=None, tags=None, idempotency_key=None
    ):
        def write():
            model = self._model(name)
            if description is not None:
                model["description"] = description
            if owner_team is not None:
                model["owner_team"] = owner_team
            model["tags"].update(tags or {})
            model["entity_version"] += 1
            self._record("model", name, "updated")
            return copy.deepcopy(model)

        return self._once(idempotency_key, write)

    def get_model(self, name):
        return copy.deepcopy(self._model(name))

    def list_models(self, name=None, tag=None, alias=None):
        found = [m for m in self.models.values() if name is None or m["name"] == name]
        return {"models": copy.deepcopy(found)}

    # -- versions ------------------------------------------------------------------------

    def register_version(
        self,
        model,
        version,
        artifact_uri="",
        flavor="",
        signature=None,
        training_datasets=(),
        evaluation_datasets=(),
        code_commit="",
        params=None,
        metrics=None,
        tags=None,
        status="ready",
        description="",
        run_id="",
        idempotency_key=None,
    ):
        def write():
            self._model(model)
            if version in self.versions[model]:
                raise ApiError(409, f"version {model}:{version} exists")
            entry = {
                "model": model,
                "version": version,
                "artifact_uri": artifact_uri,
                "flavor": flavor,
                "signature": signature,
                "training_datasets": list(training_datasets),
                "evaluation_datasets": list(evaluation_datasets),
                "code_commit": code_commit,
                "params": dict(params or {}),
                "metrics": {k: float(v) for k, v in (metrics or {}).items()},
                "tags": dict(tags or {}),
                "status": status,
                "description": description,
                "run_id": run_id,
                "created_by": "fake",
                "created_at_ms": int(time.time() * 1000),
                "validations": [],
                "deleted": False,
            }
            self.versions[model][version] = entry
            self.models[model]["latest_version"] = version
            self._record("version", f"{model}:{version}", "registered")
            return copy.deepcopy(entry)

        return self._once(idempotency_key, write)

    def get_version(self, model, version):
        self._model(model)
        if version not in self.versions[model]:
            raise ApiError(404, f"no version {model}:{version}")
        return copy.deepcopy(self.versions[model][version])

    def list_versions(self, model):
        self._model(model)
        return {"versions": copy.deepcopy(list(self.versions[model].values()))}

    def set_alias(self, model, alias, version, reason="", force=False, idempotency_key=None):
        def write():
            self.get_version(model, version)
            if not force:
                raise ApiError(409, "gate: no passed validation (the stand-in gates everything)")
            self.models[model]["aliases"][alias] = version
            self._record("model", model, "alias_set", alias=alias, version=version, reason=reason)
            return copy.deepcopy(self.models[model])

        return self._once(idempotency_key, write)

    def history(self, kind, key):
        return {"events": copy.deepcopy(self.events.get((kind, key), []))}
