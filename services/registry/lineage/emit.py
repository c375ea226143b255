"""The OpenLineage events the registry emits for its own actions (to the ``lineage`` topic
and any OpenLineage consumer, Marquez among them).

Each action is one job in namespace ``watchkeeper`` with one run per act; the run id is
derived from the act (``run_uuid``), so a retried request emits the same run again rather
than a second one. Model versions and aliases appear as datasets of namespaces
``watchkeeper-models`` (name ``<model>:<version>``) and ``watchkeeper-aliases`` (name
``<model>@<alias>``); a dataset version rides on the standard ``version`` facet. Each act is
a START and a COMPLETE event at the same time, as the spec asks of every run.

>>> start, done = version_registered_events("ctr", "7", [{"name": "clicks", "version": "4"}],
...                                         [], event_time_ms=1_700_000_000_000)
>>> done["job"]["name"], done["outputs"], done["eventType"]
('registry.register_version', [{'namespace': 'watchkeeper-models', 'name': 'ctr:7'}], 'COMPLETE')
>>> done["inputs"][0]["facets"]["version"]["datasetVersion"], start["run"] == done["run"]
('4', True)
>>> [check_event(e) for e in alias_moved_events("ctr", "champion", "7", 1_700_000_000_000)]
['RunEvent', 'RunEvent']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .ids import REGISTRY_NAMESPACE, source_dataset
from .openlineage import (
    ALIASES_NAMESPACE,
    MODELS_NAMESPACE,
    PRODUCER,
    check_event,  # noqa: F401 (the doctest's)
    run_event,
)

VERSION_FACET_URL = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)


def version_registered_events(
    model: str,
    version: str,
    training_datasets: Iterable[Mapping[str, Any]],
    evaluation_datasets: Iterable[Mapping[str, Any]],
    event_time_ms: int,
) -> list[dict[str, Any]]:
    inputs = [_registry_dataset(d["name"], d["version"]) for d in training_datasets]
    inputs += [_registry_dataset(d["name"], d["version"]) for d in evaluation_datasets]
    outputs = [(MODELS_NAMESPACE, f"{model}:{version}")]
    return _pair("registry.register_version", f"{model}:{version}", inputs, outputs, event_time_ms)


def alias_moved_events(
    model: str, alias: str, version: str, event_time_ms: int
) -> list[dict[str, Any]]:
    inputs = [(MODELS_NAMESPACE, f"{model}:{version}")]
    outputs = [(ALIASES_NAMESPACE, f"{model}@{alias}")]
    # An alias moves back and forth: the time is part of the act, or a return would
    # re-emit the first move's run.
    act = f"{model}@{alias}->{version}@{event_time_ms}"
    return _pair("registry.set_alias", act, inputs, outputs, event_time_ms)


def dataset_registered_events(
    name: str, version: str, source: str, event_time_ms: int
) -> list[dict[str, Any]]:
    found = source_dataset(source) if source else None
    inputs = [found] if found else []
    outputs = [_registry_dataset(name, version)]
    return _pair("registry.register_dataset", f"{name}:{version}", inputs, outputs, event_time_ms)


def _pair(job: str, act: str, inputs: list, outputs: list, when: int) -> list[dict[str, Any]]:
    run_id = f"{job}:{act}"
    return [
        run_event((REGISTRY_NAMESPACE, job), inputs, outputs, run_id, kind, when)
        for kind in ("START", "COMPLETE")
    ]


def _registry_dataset(name: str, version: Any) -> tuple[str, str, dict[str, Any]]:
    facet = {"_producer": PRODUCER, "_schemaURL": VERSION_FACET_URL, "datasetVersion": str(version)}
    return (REGISTRY_NAMESPACE, str(name), {"version": facet})
