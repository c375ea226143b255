"""Registry facts onto the lineage graph: datasets registered, versions registered, aliases
moved and prediction streams seen. Each function is idempotent: a fact applied twice (a
replayed event) leaves the graph as applying it once did, streams' counts aside.

Registry datasets are one node per name (``dataset:watchkeeper:<name>``) with their
versions in the ``versions`` attribute: a model version names the dataset versions it was
trained on in its own attributes, so the graph stays one node per dataset, as Marquez's.

>>> from .graph import LineageGraph
>>> g = LineageGraph()
>>> dataset_registered(g, "clicks", "4", source="s3://lake/raw/clicks")
'dataset:watchkeeper:clicks'
>>> version_registered(g, "ctr", "7", [{"name": "clicks", "version": "4"}], [])
'version:ctr:7'
>>> alias_moved(g, "ctr", "champion", "7")
'alias:ctr@champion'
>>> stream_seen(g, "ctr", "7", count=300, now_ms=1_700_000_000_000)
'stream:ctr:7'
>>> impact = g.impact("dataset:s3://lake:raw/clicks", now_ms=1_700_000_000_000)
>>> impact["datasets"], impact["versions"], impact["aliases"]
(['dataset:watchkeeper:clicks'], ['version:ctr:7'], ['alias:ctr@champion'])
>>> impact["streams"][0]["rate_per_s"], impact["streams"][0]["last_seen_ms"]
(300.0, 1700000000000)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .graph import LineageGraph
from .ids import (
    VERSION,
    alias_id,
    model_id,
    registry_dataset_id,
    source_node,
    stream_id,
    version_id,
)

DatasetRef = Mapping[str, Any] | tuple[str, str]


def dataset_registered(graph: LineageGraph, name: str, version: str, source: str = "") -> str:
    """``source -> dataset``; ``source`` is a node id, a URI or another registry dataset."""
    node = registry_dataset_id(name)
    _add_version(graph, node, name, str(version))
    upstream = source_node(source) if source else None
    if upstream is not None and upstream != node:
        graph.add_edge(upstream, node)
        graph.set_attrs(node, {"source": source})
    return node


def version_registered(
    graph: LineageGraph,
    model: str,
    version: str,
    training_datasets: Iterable[DatasetRef] = (),
    evaluation_datasets: Iterable[DatasetRef] = (),
) -> str:
    """``model -> version`` and ``dataset -> version`` for every training and evaluation
    dataset (the dataset versions kept on the version node)."""
    node = version_id(model, version)
    training = [_ref(d) for d in training_datasets]
    evaluation = [_ref(d) for d in evaluation_datasets]
    graph.add_node(
        node,
        {
            "model": model,
            "version": str(version),
            "registered": True,
            "training_datasets": [f"{n}:{v}" for n, v in training],
            "evaluation_datasets": [f"{n}:{v}" for n, v in evaluation],
        },
    )
    _model(graph, model, node)
    for name, ds_version in training + evaluation:
        dataset = registry_dataset_id(name)
        _add_version(graph, dataset, name, ds_version)
        graph.add_edge(dataset, node)
    return node


def alias_moved(graph: LineageGraph, model: str, alias: str, version: str | None) -> str:
    """``version -> alias``, the edge from the version it pointed to before removed; a
    version of None is the alias deleted (its node goes)."""
    node = alias_id(model, alias)
    if version is None:
        graph.remove_node(node)
        return node
    target = version_id(model, version)
    if target not in graph:
        graph.add_node(target, {"model": model, "version": str(version)})
        _model(graph, model, target)
    if node in graph:
        for before in graph.in_edges(node):
            if before != target and graph.type_of(before) == VERSION:
                graph.remove_edge(before, node)
    graph.add_edge(target, node)
    graph.set_attrs(node, {"model": model, "alias": alias, "version": str(version)})
    return node


def stream_seen(graph: LineageGraph, model: str, version: str, count: int, now_ms: int) -> str:
    """``version -> stream``, and ``count`` predictions at ``now_ms`` on the stream's rate
    (rate.WindowRate: O(1) per observation). A version the registry never registered is
    created too, without ``registered``: what serves is shown even when unregistered."""
    node = stream_id(model, version)
    if node not in graph:
        target = version_id(model, version)
        if target not in graph:
            graph.add_node(target, {"model": model, "version": str(version)})
            _model(graph, model, target)
        graph.add_edge(target, node)
        graph.set_attrs(node, {"model": model, "version": str(version)})
    graph.meter(node).observe(count, now_ms)
    return node


def _model(graph: LineageGraph, model: str, version_node: str) -> None:
    node = model_id(model)
    if node not in graph:
        graph.add_node(node, {"name": model})
    graph.add_edge(node, version_node)


def _add_version(graph: LineageGraph, node: str, name: str, version: str) -> None:
    known = graph.attr(node, "versions", [])
    if version in known:
        return  # replay and re-registration: nothing new to say
    graph.add_node(
        node, {"namespace": "watchkeeper", "name": name, "versions": sorted([*known, version])}
    )


def _ref(d: DatasetRef) -> tuple[str, str]:
    if isinstance(d, Mapping):
        return str(d["name"]), str(d["version"])
    name, version = d
    return str(name), str(version)
