"""MLflow -> our registry: registered models, their versions (with the params and latest
metrics of each version's run) and aliases.

Idempotent by comparing before writing: a model that exists is updated only where MLflow
says something ours does not; a version that exists gets MLflow's newer tags, metrics,
status or description, and is reported and left alone when what is fixed at registration
(artifact, run, params, ...) differs; an alias is moved only when it points elsewhere.
Every write carries an idempotency key made from its content (and, for updates, the entity
version it was read at), so a retry after a lost answer is a no-op at the registry too.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .mapping import (
    DATASETS_TAG,
    FLAVOR_TAG,
    GIT_COMMIT_TAG,
    IMPORT_REASON,
    OWNER_TAG,
    VERSION_TAG,
    Summary,
    get_or_none,
    idempotency_key,
    reason_of,
    refused,
    status_from_mlflow,
    status_of,
    write,
)
from .rest import MlflowRest, tag_dict

# The fields of a version fixed at registration: one that differs from MLflow's is a
# different version, reported and left alone. Tags, metrics, status and description may
# change afterwards (update_version), and the import brings MLflow's changes to them.
FIXED = (
    "artifact_uri",
    "run_id",
    "params",
    "flavor",
    "code_commit",
    "training_datasets",
)


def import_from(mlflow_url: str, registry: Any) -> Summary:
    """Bring every registered model of the MLflow server at ``mlflow_url`` into
    ``registry`` (a RegistryClient); what changed and what was refused is in the Summary.

    Raises ``MlflowUnreachable`` / ``MlflowError`` when MLflow cannot be read, and the
    registry's own error when it fails as a whole (auth, 5xx).
    """
    summary = Summary("import")
    with MlflowRest(mlflow_url) as mlflow:
        for listed in sorted(mlflow.registered_models(), key=lambda m: m["name"]):
            model = mlflow.registered_model(listed["name"]) or listed
            _import_model(mlflow, registry, model, summary)
    return summary


def _import_model(mlflow: MlflowRest, registry: Any, model: dict, summary: Summary) -> None:
    name = model["name"]
    tags = tag_dict(model.get("tags"))
    owner_team = tags.pop(OWNER_TAG, "")
    description = model.get("description") or ""
    ours = get_or_none(registry.get_model, name)
    try:
        if ours is None:
            key = idempotency_key("create_model", name, description, owner_team, tags)
            write(
                registry.create_model,
                key,
                name,
                description=description,
                owner_team=owner_team,
                tags=tags,
            )
            summary.created.append(f"model {name}")
        elif ours.get("deleted"):
            summary.skip(f"model {name}", "deleted in the registry; not brought back")
            return
        else:
            _update_model(registry, ours, description, owner_team, tags, summary)
    except Exception as exc:
        if not refused(exc):
            raise
        summary.skip(f"model {name}", reason_of(exc))
        return  # its versions and aliases have nowhere to go
    numbers = {}  # MLflow's version number -> ours, for the versions that match
    for mlflow_version in mlflow.model_versions(name):
        ours_version = _import_version(mlflow, registry, name, mlflow_version, summary)
        if ours_version is not None:
            numbers[mlflow_version["version"]] = ours_version
    _import_aliases(registry, name, model.get("aliases") or [], numbers, summary)


def _update_model(
    registry: Any,
    ours: dict,
    description: str,
    owner_team: str,
    tags: dict[str, str],
    summary: Summary,
) -> None:
    # MLflow's empty description or owner does not wipe ours; tags are merged.
    changes: dict[str, Any] = {}
    if description and ours.get("description", "") != description:
        changes["description"] = description
    if owner_team and ours.get("owner_team", "") != owner_team:
        changes["owner_team"] = owner_team
    have = ours.get("tags") or {}
    new_tags = {k: v for k, v in tags.items() if have.get(k) != v}
    if new_tags:
        changes["tags"] = new_tags
    if not changes:
        summary.unchanged += 1
        return
    name = ours["name"]
    # The entity version in the key: the same change made again after someone else's is
    # a new write, not a replay of the first.
    key = idempotency_key("update_model", name, ours.get("entity_version"), changes)
    write(registry.update_model, key, name, **changes)
    summary.updated.append(f"model {name} ({', '.join(sorted(changes))})")


def version_fields(mlflow: MlflowRest, model_version: dict, summary: Summary) -> dict:
    """The register_version arguments for one MLflow model version (``version`` included)."""
    tags = tag_dict(model_version.get("tags"))
    version = tags.pop(VERSION_TAG, "") or str(model_version["version"])
    flavor = tags.pop(FLAVOR_TAG, "")
    datasets = _datasets(tags.pop(DATASETS_TAG, ""))
    run_id = model_version.get("run_id") or ""
    run = mlflow.run(run_id) if run_id else None
    data = (run or {}).get("data", {})
    metrics = {}
    for item in data.get("metrics", []):
        value = float(item.get("value", "nan"))
        if math.isfinite(value):
            metrics[item["key"]] = value
        else:
            where = f"{model_version['name']}:{version}"
            summary.skip(f"metric {item['key']} of {where}", f"not a finite number ({value})")
    return {
        "version": version,
        "artifact_uri": model_version.get("source") or "",
        "run_id": run_id,
        "params": tag_dict(data.get("params")),
        "metrics": metrics,
        "tags": tags,
        "status": status_from_mlflow(model_version.get("status", "")),
        "description": model_version.get("description") or "",
        "flavor": flavor,
        "code_commit": tag_dict(data.get("tags")).get(GIT_COMMIT_TAG, ""),
        "training_datasets": datasets,
    }


def _datasets(text: str) -> list[dict]:
    """The training datasets an exported version carries as JSON; junk reads as none.

    >>> _datasets('[{"name": "churn-train", "version": "7"}]'), _datasets("junk")
    ([{'name': 'churn-train', 'version': '7'}], [])
    """
    try:
        found = json.loads(text) if text else []
    except ValueError:
        return []
    if not isinstance(found, list):
        return []
    return [
        {"name": str(d["name"]), "version": str(d["version"])}
        for d in found
        if isinstance(d, dict) and "name" in d and "version" in d
    ]


def _import_version(
    mlflow: MlflowRest, registry: Any, model: str, model_version: dict, summary: Summary
) -> str | None:
    """Our version string when ours now matches MLflow's version, else None."""
    wanted = version_fields(mlflow, model_version, summary)
    version = wanted["version"]
    item = f"version {model}:{version}"
    wanted["training_datasets"] = _known_datasets(
        registry, wanted["training_datasets"], item, summary
    )
    existing = get_or_none(registry.get_version, model, version)
    if existing is None:
        fields = {k: v for k, v in wanted.items() if k != "version"}
        key = idempotency_key("register_version", model, version, fields)
        try:
            write(registry.register_version, key, model, version, **fields)
        except Exception as exc:
            if not refused(exc):
                raise
            summary.skip(item, reason_of(exc))
            return None
        summary.created.append(item)
        return version
    if existing.get("deleted"):
        summary.skip(item, "deleted in the registry; not brought back")
        return None
    differs = [f for f in FIXED if _normal(f, existing.get(f)) != _normal(f, wanted[f])]
    if differs:
        summary.skip(
            item,
            f"exists with other {', '.join(differs)} than mlflow version "
            f"{model_version['version']} (fixed at registration; left as it is)",
        )
        return None
    changes = _version_changes(existing, wanted)
    if not changes:
        summary.unchanged += 1
        return version
    key = idempotency_key("update_version", model, version, existing.get("entity_version"), changes)
    try:
        write(registry.update_version, key, model, version, **changes)
    except Exception as exc:
        if not refused(exc):
            raise
        summary.skip(item, reason_of(exc))
        return version  # the version itself is ours and matches: aliases may name it
    summary.updated.append(f"{item} ({', '.join(sorted(changes))})")
    return version


def _version_changes(existing: dict, wanted: dict) -> dict[str, Any]:
    """What MLflow says of a version that ours lacks, among what a version may change:
    tags and metrics (merged, so only the differing keys), status, a description.

    >>> _version_changes({"tags": {"a": "1"}, "metrics": {"auc": 0.8}, "status": "ready"},
    ...                  {"tags": {"a": "1", "b": "2"}, "metrics": {"auc": 0.8},
    ...                   "status": "ready", "description": ""})
    {'tags': {'b': '2'}}
    """
    changes: dict[str, Any] = {}
    tags = existing.get("tags") or {}
    new_tags = {k: v for k, v in wanted["tags"].items() if tags.get(k) != v}
    if new_tags:
        changes["tags"] = new_tags
    metrics = {k: float(v) for k, v in (existing.get("metrics") or {}).items()}
    new_metrics = {k: v for k, v in wanted["metrics"].items() if metrics.get(k) != v}
    if new_metrics:
        changes["metrics"] = new_metrics
    if wanted["status"] != (existing.get("status") or "ready"):
        changes["status"] = wanted["status"]
    if wanted["description"] and wanted["description"] != (existing.get("description") or ""):
        changes["description"] = wanted["description"]
    return changes


def _known_datasets(registry: Any, refs: list[dict], item: str, summary: Summary) -> list[dict]:
    """The refs the registry has datasets for: it refuses a version naming any other, and
    a tag is no ground for registering a dataset (no uri, hash or schema)."""
    known = []
    for ref in refs:
        if get_or_none(registry.get_dataset, ref["name"], ref["version"]) is None:
            summary.skip(
                f"training dataset {ref['name']}:{ref['version']} of {item}",
                "not registered here; the version is imported without it",
            )
        else:
            known.append(ref)
    return known


def _normal(field: str, value: Any) -> Any:
    """A field as compared: missing and empty are the same; metrics compare as floats."""
    if field == "metrics":
        return {k: float(v) for k, v in (value or {}).items()}
    if field in ("params", "tags"):
        return dict(value or {})
    if field == "training_datasets":
        return sorted((str(d["name"]), str(d["version"])) for d in value or [])
    return value or ""


def _import_aliases(
    registry: Any, model: str, aliases: list[dict], numbers: dict[str, str], summary: Summary
) -> None:
    ours = get_or_none(registry.get_model, model) or {}
    current = ours.get("aliases") or {}
    for entry in sorted(aliases, key=lambda a: a["alias"]):
        alias, number = entry["alias"], str(entry["version"])
        item = f"alias {model}@{alias}"
        version = numbers.get(number)
        if version is None:
            summary.skip(item, f"mlflow version {number} was not imported")
            continue
        if current.get(alias) == version:
            summary.unchanged += 1
            continue
        # Imported aliases are not gated: MLflow already decided where they point.
        key = idempotency_key(
            "set_alias", model, alias, version, current.get(alias), ours.get("entity_version")
        )
        try:
            write(
                registry.set_alias,
                key,
                model,
                alias,
                version,
                reason=IMPORT_REASON,
                force=True,
            )
        except Exception as exc:
            # 403: forcing a gated alias (champion) needs the admin scope; the rest of
            # the import still stands, so it is reported like any other refusal.
            if not refused(exc) and status_of(exc) != 403:
                raise
            summary.skip(item, reason_of(exc))
            continue
        (summary.updated if alias in current else summary.created).append(f"{item} -> {version}")
