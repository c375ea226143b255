"""The lineage graph: typed nodes, attributes, adjacency both ways, and its queries.

Edges point the way data flows (a dataset into the job reading it, a job into the dataset
it writes, a dataset into the model version trained on it, a version into its aliases and
its prediction stream). ``downstream`` follows them, ``upstream`` walks them backwards,
``lineage`` is both in Marquez's response shape and ``impact`` is everything downstream,
sorted by kind. Every walk keeps a visited set, so cycles end; answers are sorted by id,
so they are the same whatever order the graph was fed in.

One thread owns a graph (the service's event loop): nothing here locks.

>>> g = LineageGraph()
>>> g.add_edge("dataset:s3://lake:raw/clicks", "job:airflow:etl.clicks")
>>> g.add_edge("job:airflow:etl.clicks", "dataset:watchkeeper:clicks")
>>> g.add_edge("dataset:watchkeeper:clicks", "version:ctr:7")
>>> g.add_edge("version:ctr:7", "alias:ctr@champion")
>>> g.add_edge("version:ctr:7", "stream:ctr:7")
>>> g.set_attrs("stream:ctr:7", {"model": "ctr", "version": "7"})
>>> g.meter("stream:ctr:7").observe(120, now_ms=1_700_000_000_000)
>>> impact = g.impact("dataset:s3://lake:raw/clicks", now_ms=1_700_000_000_000)
>>> impact["versions"], impact["aliases"]
(['version:ctr:7'], ['alias:ctr@champion'])
>>> impact["streams"]  # doctest: +NORMALIZE_WHITESPACE
[{'id': 'stream:ctr:7', 'model': 'ctr', 'version': '7', 'rate_per_s': 120.0,
  'last_seen_ms': 1700000000000}]
>>> [(n["id"], n["distance"]) for n in g.upstream("version:ctr:7", depth=2)]
[('dataset:watchkeeper:clicks', 1), ('job:airflow:etl.clicks', 2)]
>>> [n["id"] for n in g.lineage("job:airflow:etl.clicks", depth=1)["graph"]]
['dataset:s3://lake:raw/clicks', 'dataset:watchkeeper:clicks', 'job:airflow:etl.clicks']
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from typing import Any

from .ids import ALIAS, DATASET, STREAM, VERSION, node_type
from .rate import WindowRate

# Marquez's default depth for GET /api/v1/lineage.
DEFAULT_DEPTH = 20


class UnknownNode(KeyError):
    """No node with that id (the API answers 404)."""

    def __init__(self, node: str) -> None:
        super().__init__(node)
        self.node = node

    def __str__(self) -> str:
        return f"no lineage node {self.node!r}"


class LineageGraph:
    __slots__ = ("_attrs", "_in", "_meters", "_out", "_types")

    def __init__(self) -> None:
        self._types: dict[str, str] = {}
        self._attrs: dict[str, dict[str, Any]] = {}
        self._out: dict[str, set[str]] = {}
        self._in: dict[str, set[str]] = {}
        self._meters: dict[str, WindowRate] = {}

    # -- building ----------------------------------------------------------------------

    def add_node(self, node: str, attrs: dict[str, Any] | None = None) -> None:
        """Create ``node`` if new (its type from the id's prefix) and merge ``attrs`` in."""
        if node not in self._types:
            kind = node_type(node)
            if kind is None:
                raise ValueError(
                    f"node id {node!r} must start with dataset:, job:, model:, version:, "
                    "alias: or stream:"
                )
            self._types[node] = kind
            self._attrs[node] = {}
            self._out[node] = set()
            self._in[node] = set()
        if attrs:
            self._attrs[node].update(attrs)

    def set_attrs(self, node: str, attrs: dict[str, Any]) -> None:
        self.add_node(node, attrs)

    def add_edge(self, origin: str, destination: str) -> None:
        """An edge ``origin -> destination`` (both nodes created if new); idempotent."""
        types = self._types
        if origin not in types:
            self.add_node(origin)
        if destination not in types:
            self.add_node(destination)
        self._out[origin].add(destination)
        self._in[destination].add(origin)

    def remove_edge(self, origin: str, destination: str) -> bool:
        """Remove the edge if there is one; True when it was there."""
        outs = self._out.get(origin)
        if outs is None or destination not in outs:
            return False
        outs.discard(destination)
        self._in[destination].discard(origin)
        return True

    def remove_node(self, node: str) -> bool:
        """Remove the node and every edge touching it; True when it was there."""
        if node not in self._types:
            return False
        for other in self._out.pop(node):
            self._in[other].discard(node)
        for other in self._in.pop(node):
            self._out[other].discard(node)
        del self._types[node], self._attrs[node]
        self._meters.pop(node, None)
        return True

    def meter(self, node: str) -> WindowRate:
        """The rate meter of a stream node (node and meter created if new)."""
        meter = self._meters.get(node)
        if meter is None:
            self.add_node(node)
            meter = self._meters[node] = WindowRate()
        return meter

    # -- reading -----------------------------------------------------------------------

    def __contains__(self, node: object) -> bool:
        return node in self._types

    def __len__(self) -> int:
        return len(self._types)

    def edge_count(self) -> int:
        return sum(len(outs) for outs in self._out.values())

    def type_of(self, node: str) -> str:
        self._need(node)
        return self._types[node]

    def attrs(self, node: str) -> dict[str, Any]:
        """A copy of the node's attributes (a caller's changes do not reach the graph)."""
        self._need(node)
        return _copy(self._attrs[node])

    def attr(self, node: str, key: str, default: Any = None) -> Any:
        """One attribute as stored, without copying (the feed's reads; do not change it)."""
        attrs = self._attrs.get(node)
        return default if attrs is None else attrs.get(key, default)

    def out_edges(self, node: str) -> list[str]:
        self._need(node)
        return sorted(self._out[node])

    def in_edges(self, node: str) -> list[str]:
        self._need(node)
        return sorted(self._in[node])

    def nodes(self, kind: str | None = None) -> list[str]:
        return sorted(n for n, t in self._types.items() if kind is None or t == kind)

    def node_data(self, node: str, now_ms: int | None = None) -> dict[str, Any]:
        """The node's attributes, with ``rate_per_s`` and ``last_seen_ms`` for a stream."""
        data = self.attrs(node)
        meter = self._meters.get(node)
        if meter is not None:
            data["rate_per_s"] = meter.rate_per_s(_now(now_ms))
            data["last_seen_ms"] = meter.last_seen_ms
        return data

    # -- queries -----------------------------------------------------------------------

    def upstream(self, node: str, depth: int | None = DEFAULT_DEPTH) -> list[dict[str, Any]]:
        """Nodes that reach ``node`` within ``depth`` edges (None: any), nearest first."""
        return self._listed(self._walk(node, self._in, depth))

    def downstream(self, node: str, depth: int | None = DEFAULT_DEPTH) -> list[dict[str, Any]]:
        """Nodes ``node`` reaches within ``depth`` edges (None: any), nearest first."""
        return self._listed(self._walk(node, self._out, depth))

    def lineage(
        self, node: str, depth: int = DEFAULT_DEPTH, now_ms: int | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Marquez's ``GET /api/v1/lineage`` answer: the node, everything within ``depth``
        edges up- and downstream, each with its edges to the others, sorted by id.

        Edges to nodes outside the answer are left out, so every edge named has both
        ends in ``graph``.
        """
        found = set(self._walk(node, self._in, depth))
        found.update(self._walk(node, self._out, depth))
        found.add(node)
        graph = []
        for n in sorted(found):
            graph.append(
                {
                    "id": n,
                    "type": self._types[n],
                    "data": self.node_data(n, now_ms),
                    "inEdges": [
                        {"origin": o, "destination": n} for o in sorted(self._in[n]) if o in found
                    ],
                    "outEdges": [
                        {"origin": n, "destination": d} for d in sorted(self._out[n]) if d in found
                    ],
                }
            )
        return {"graph": graph}

    def impact(self, node: str, now_ms: int | None = None) -> dict[str, list[Any]]:
        """Every dataset, model version, alias and prediction stream downstream of ``node``,
        at any depth; streams with their rate and last-seen time at ``now_ms``."""
        self._need(node)
        out, types = self._out, self._types
        seen = {node}
        stack = [node]
        # An iterative walk: the graph may be deeper than Python's recursion limit.
        while stack:
            for nxt in out[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        seen.discard(node)
        by_kind: dict[str, list[str]] = {DATASET: [], VERSION: [], ALIAS: [], STREAM: []}
        for n in seen:
            bucket = by_kind.get(types[n])
            if bucket is not None:
                bucket.append(n)
        now = _now(now_ms)
        streams = []
        for s in sorted(by_kind[STREAM]):
            attrs = self._attrs[s]
            meter = self._meters.get(s)
            streams.append(
                {
                    "id": s,
                    "model": attrs.get("model"),
                    "version": attrs.get("version"),
                    "rate_per_s": meter.rate_per_s(now) if meter else 0.0,
                    "last_seen_ms": meter.last_seen_ms if meter else None,
                }
            )
        return {
            "datasets": sorted(by_kind[DATASET]),
            "versions": sorted(by_kind[VERSION]),
            "aliases": sorted(by_kind[ALIAS]),
            "streams": streams,
        }

    # -- inside ------------------------------------------------------------------------

    def _need(self, node: str) -> None:
        if node not in self._types:
            raise UnknownNode(node)

    def _walk(self, node: str, adjacency: dict[str, set[str]], depth: int | None) -> dict:
        """Breadth-first from ``node``: {reached node: distance}, the start left out."""
        self._need(node)
        if depth is not None and (not isinstance(depth, int) or depth < 0):
            raise ValueError(f"depth must be a whole number >= 0, got {depth!r}")
        distance = {node: 0}
        frontier = [node]
        hops = 0
        while frontier and (depth is None or hops < depth):
            hops += 1
            nxt = []
            for n in frontier:
                for m in adjacency[n]:
                    if m not in distance:
                        distance[m] = hops
                        nxt.append(m)
            frontier = nxt
        del distance[node]
        return distance

    def _listed(self, distance: dict[str, int]) -> list[dict[str, Any]]:
        ordered = sorted(distance.items(), key=lambda item: (item[1], item[0]))
        return [{"id": n, "type": self._types[n], "distance": d} for n, d in ordered]


def _now(now_ms: int | None) -> int:
    return int(time.time() * 1000) if now_ms is None else now_ms


def _copy(attrs: dict[str, Any]) -> dict[str, Any]:
    # One level down is enough: attribute values are scalars, lists and flat dicts.
    return {
        k: list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v
        for k, v in attrs.items()
    }


def chain(graph: LineageGraph, nodes: Iterable[str]) -> None:
    """Edges along ``nodes`` in order (tests and benchmarks build paths with it).

    >>> g = LineageGraph(); chain(g, ["dataset:a:x", "job:a:j", "dataset:a:y"]); g.edge_count()
    2
    """
    nodes = list(nodes)
    for origin, destination in itertools.pairwise(nodes):
        graph.add_edge(origin, destination)
