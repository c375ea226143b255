"""Our registry -> MLflow: each model a registered model, each version an MLflow model
version (source our artifact_uri) backed by a run in the experiment "watchkeeper-registry"
that holds its params and metrics, and the aliases.

MLflow numbers versions itself, so ours is written as the tag ``watchkeeper.version`` and
found by it the next time: a second export creates nothing. A version that came from this
very MLflow server (imported: no such tag, but its number, source and run are ours) is
recognised too and not copied again. Runs are found by their ``watchkeeper.model`` /
``watchkeeper.version`` tags, so an export cut short between a run and its model version
reuses the run. Nothing is deleted in MLflow; aliases are set or moved, never removed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .mapping import (
    DATASETS_TAG,
    EXPERIMENT,
    FLAVOR_TAG,
    GIT_COMMIT_TAG,
    MODEL_TAG,
    OWNER_TAG,
    VERSION_TAG,
    Summary,
)
from .rest import MlflowError, MlflowRest, quote, tag_dict, tag_list


def export_to(mlflow_url: str, registry: Any) -> Summary:
    """Write every model of ``registry`` (a RegistryClient) to the MLflow server at
    ``mlflow_url``; what MLflow refused (e.g. a name with '/' or ':') is in the Summary."""
    summary = Summary("export")
    with MlflowRest(mlflow_url) as mlflow:
        mlflow.check()  # a wrong URL fails here, even for an empty registry
        exporter = _Exporter(mlflow, registry, summary)
        listed = registry.list_models().get("models", [])
        for name in sorted(m["name"] for m in listed if not m.get("deleted")):
            try:
                exporter.model(registry.get_model(name))
            except MlflowError as exc:
                summary.skip(f"model {name}", f"mlflow refused it: {exc}")
    return summary


def mlflow_tags_of_version(version: dict) -> dict[str, str]:
    """The tags an exported MLflow model version carries for one of our versions.

    >>> tags = mlflow_tags_of_version({"version": "2024.1", "tags": {"team": "risk"},
    ...     "flavor": "", "training_datasets": [{"name": "t", "version": "3"}]})
    >>> for key, value in tags.items(): print(key, value)
    team risk
    watchkeeper.version 2024.1
    watchkeeper.training_datasets [{"name": "t", "version": "3"}]
    """
    tags = dict(version.get("tags") or {})
    tags[VERSION_TAG] = version["version"]
    if version.get("flavor"):
        tags[FLAVOR_TAG] = version["flavor"]
    datasets = [
        {"name": d["name"], "version": d["version"]} for d in version.get("training_datasets") or []
    ]
    if datasets:
        tags[DATASETS_TAG] = json.dumps(datasets)
    return tags


class _Exporter:
    def __init__(self, mlflow: MlflowRest, registry: Any, summary: Summary) -> None:
        self.mlflow = mlflow
        self.registry = registry
        self.summary = summary
        self._experiment_id: str | None = None

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            self._experiment_id = self.mlflow.experiment_id(EXPERIMENT)
        return self._experiment_id

    def model(self, ours: dict) -> None:
        name = ours["name"]
        tags = dict(ours.get("tags") or {})
        if ours.get("owner_team"):
            tags[OWNER_TAG] = ours["owner_team"]
        description = ours.get("description") or ""
        theirs = self.mlflow.registered_model(name)
        if theirs is None:
            self.mlflow.post(
                "registered-models/create", name=name, description=description, tags=tag_list(tags)
            )
            self.summary.created.append(f"model {name}")
            theirs = {"name": name, "aliases": []}
        else:
            self._update_model(theirs, description, tags)
        numbers = {}  # our version -> MLflow's number
        existing = self.mlflow.model_versions(name)
        listed = self.registry.list_versions(name).get("versions", [])
        for version in listed:
            if version.get("deleted"):
                continue
            item = f"version {name}:{version['version']}"
            try:
                numbers[version["version"]] = self.version(name, version, existing)
            except MlflowError as exc:
                self.summary.skip(item, f"mlflow refused it: {exc}")
        self._aliases(name, ours.get("aliases") or {}, theirs.get("aliases") or [], numbers)

    def _update_model(self, theirs: dict, description: str, tags: dict[str, str]) -> None:
        name = theirs["name"]
        changed = []
        if description and (theirs.get("description") or "") != description:
            self.mlflow.call(
                "PATCH", "registered-models/update", {"name": name, "description": description}
            )
            changed.append("description")
        have = tag_dict(theirs.get("tags"))
        for key in sorted(k for k, v in tags.items() if have.get(k) != v):
            self.mlflow.post("registered-models/set-tag", name=name, key=key, value=tags[key])
            changed.append(f"tag {key}")
        if changed:
            self.summary.updated.append(f"model {name} ({', '.join(changed)})")
        else:
            self.summary.unchanged += 1

    def version(self, model: str, ours: dict, existing: list[dict]) -> str:
        """MLflow's number for our version ``ours``, creating the version if it has none."""
        found = _find(ours, existing)
        if found is not None:
            self._update_version(model, found, ours if _tagged(found) else None)
            return str(found["version"])
        run = self._run(model, ours)
        created = self.mlflow.post(
            "model-versions/create",
            name=model,
            # MLflow wants a source; a version of ours without artifacts points at its run.
            source=ours.get("artifact_uri") or run["info"]["artifact_uri"],
            run_id=run["info"]["run_id"],
            tags=tag_list(mlflow_tags_of_version(ours)),
            description=ours.get("description") or "",
        )["model_version"]
        existing.append(created)
        self.summary.created.append(
            f"version {model}:{ours['version']} (mlflow version {created['version']})"
        )
        return str(created["version"])

    def _update_version(self, model: str, theirs: dict, ours: dict | None) -> None:
        """Bring an exported version up to date: its tags, and its run's metrics and
        params (ours change after registration: tags merged, metrics updated). A version
        imported from this server (``ours`` None here) is MLflow's own: left alone."""
        changed = []
        if ours is not None:
            tags = mlflow_tags_of_version(ours)
            have = tag_dict(theirs.get("tags"))
            for key in sorted(k for k, v in tags.items() if have.get(k) != v):
                self.mlflow.post(
                    "model-versions/set-tag",
                    name=model,
                    version=theirs["version"],
                    key=key,
                    value=tags[key],
                )
                changed.append(f"tag {key}")
            run = self._find_run(model, ours["version"])
            if run is not None:
                changed += self._sync_run(run, ours, at_ms=int(time.time() * 1000))
        item = f"version {model}:{ours['version'] if ours else theirs['version']}"
        if changed:
            self.summary.updated.append(f"{item} ({', '.join(changed)})")
        else:
            self.summary.unchanged += 1

    def _find_run(self, model: str, version: str) -> dict | None:
        found = self.mlflow.search_runs(
            self.experiment_id,
            f"tags.`{MODEL_TAG}` = {quote(model)} and tags.`{VERSION_TAG}` = {quote(version)}",
        )
        return found[0] if found else None

    def _sync_run(self, run: dict, ours: dict, at_ms: int) -> list[str]:
        """Log the params the run lacks and the metrics whose value differs (an export
        cut short, or metrics updated since); what was sent, as words for the summary."""
        data = run.get("data", {})
        have_params = tag_dict(data.get("params"))
        have_metrics = {m["key"]: float(m["value"]) for m in data.get("metrics", [])}
        params = {k: str(v) for k, v in (ours.get("params") or {}).items() if k not in have_params}
        metrics = {
            k: float(v)
            for k, v in (ours.get("metrics") or {}).items()
            if have_metrics.get(k) != float(v)
        }
        if not (params or metrics):
            return []
        self.mlflow.log_batch(run["info"]["run_id"], params, metrics, at_ms)
        return [f"param {k}" for k in sorted(params)] + [f"metric {k}" for k in sorted(metrics)]

    def _run(self, model: str, ours: dict) -> dict:
        """The run holding ``ours``' params and metrics: found by its tags, else created."""
        version = ours["version"]
        at_ms = int(ours.get("created_at_ms") or 0)
        found = self._find_run(model, version)
        if found is not None:
            self._sync_run(found, ours, at_ms)
            return found
        tags = {MODEL_TAG: model, VERSION_TAG: version}
        if ours.get("code_commit"):
            tags[GIT_COMMIT_TAG] = ours["code_commit"]
        run = self.mlflow.post(
            "runs/create",
            experiment_id=self.experiment_id,
            run_name=f"{model}:{version}",
            start_time=at_ms,
            tags=tag_list(tags),
        )["run"]
        run_id = run["info"]["run_id"]
        params = {k: str(v) for k, v in (ours.get("params") or {}).items()}
        metrics = {k: float(v) for k, v in (ours.get("metrics") or {}).items()}
        self.mlflow.log_batch(run_id, params, metrics, at_ms)
        self.mlflow.post("runs/update", run_id=run_id, status="FINISHED", end_time=at_ms)
        self.summary.created.append(f"run {model}:{version} ({run_id})")
        return run

    def _aliases(
        self, model: str, ours: dict[str, str], theirs: list[dict], numbers: dict[str, str]
    ) -> None:
        have = {a["alias"]: str(a["version"]) for a in theirs}
        for alias in sorted(ours):
            item = f"alias {model}@{alias}"
            number = numbers.get(ours[alias])
            if number is None:
                self.summary.skip(item, f"version {ours[alias]} was not exported")
                continue
            if have.get(alias) == number:
                self.summary.unchanged += 1
                continue
            self.mlflow.post("registered-models/alias", name=model, alias=alias, version=number)
            done = self.summary.updated if alias in have else self.summary.created
            done.append(f"{item} -> mlflow version {number}")


def _tagged(theirs: dict) -> bool:
    return VERSION_TAG in tag_dict(theirs.get("tags"))


def _find(ours: dict, existing: list[dict]) -> dict | None:
    """The MLflow version that is ``ours``: tagged with its version string, or (imported
    from this server) untagged with its number, source and run."""
    for theirs in existing:
        if tag_dict(theirs.get("tags")).get(VERSION_TAG) == ours["version"]:
            return theirs
    for theirs in existing:
        if (
            not _tagged(theirs)
            and str(theirs["version"]) == ours["version"]
            and (theirs.get("source") or "") == (ours.get("artifact_uri") or "")
            and (theirs.get("run_id") or "") == (ours.get("run_id") or "")
        ):
            return theirs
    return None
