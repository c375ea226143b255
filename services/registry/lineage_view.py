"""The registry's lineage graph, kept from committed events (so a restart's replay
rebuilds it) and from the prediction streams' live counts, and the OpenLineage events
the registry sends for its own acts.

The graph is derived state, built after the replay rather than during it: the replay
only queues the facts (so the registry takes commands sooner after a restart), and
``build`` applies them on the service's loop in slices, later facts queued behind; a
lineage query waits for ``built``. All of it runs on the one loop: no locks.

>>> from watchkeeper.control import Audit, Entity, Event
>>> view = Lineage(deferred=False)
>>> audit = Audit("alice", 1_700_000_000_000, "", "x", "k")
>>> def fact(kind, key, type_, data):
...     view.committed(Event(kind, key, 1, type_, data, audit), Entity(kind, key, 1, data))
>>> fact("dataset", "tx:1", "dataset.registered", {"name": "tx", "version": "1",
...                                                "source": "postgres://db/ledger"})
>>> fact("version", "fraud:2", "version.registered", {"model": "fraud", "version": "2",
...      "training_datasets": [{"name": "tx", "version": "1"}]})
>>> view.observe("fraud", "2", 50, 1_700_000_001_000)
>>> impact = view.graph.impact("dataset:watchkeeper:tx", now_ms=1_700_000_001_000)
>>> impact["versions"], [s["id"] for s in impact["streams"]]
(['version:fraud:2'], ['stream:fraud:2'])
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any

from watchkeeper.control import Entity, Event

from .lineage import emit, feed, openlineage
from .lineage.graph import LineageGraph

SLICE = 5_000  # facts applied between two turns of the loop while building


class Lineage:
    def __init__(self, deferred: bool = True) -> None:
        self.graph = LineageGraph()
        self._queued: list[Callable[[], None]] | None = [] if deferred else None
        self.built = asyncio.Event()
        if not deferred:
            self.built.set()

    async def build(self) -> int:
        """Apply what was queued, a slice per turn of the loop; then apply facts as they
        come. Returns how many were queued."""
        applied = 0
        queued = self._queued or []
        gc.disable()  # as in the replay: what is built lives on, nothing to collect
        try:
            while queued:
                slice_, queued[:SLICE] = queued[:SLICE], []
                for apply in slice_:
                    apply()
                applied += len(slice_)
                await asyncio.sleep(0)
        finally:
            gc.freeze()
            gc.enable()
        self._queued = None
        self.built.set()
        return applied

    def _do(self, apply: Callable[[], None]) -> None:
        if self._queued is not None:
            self._queued.append(apply)
        else:
            apply()

    def committed(self, event: Event, entity: Entity) -> None:
        self._do(lambda: self._apply(event))

    def observe(self, model: str, version: str, count: int, now_ms: int) -> None:
        self._do(lambda: feed.stream_seen(self.graph, model, version, count, now_ms))

    def _apply(self, event: Event) -> None:
        data = event.data
        if event.type == "dataset.registered":
            feed.dataset_registered(
                self.graph, data["name"], data["version"], data.get("source", "")
            )
        elif event.type == "version.registered":
            feed.version_registered(
                self.graph,
                data["model"],
                data["version"],
                data.get("training_datasets", []),
                data.get("evaluation_datasets", []),
            )
        elif event.type == "alias.set":
            feed.alias_moved(self.graph, event.key, data["alias"], data["version"])
        elif event.type == "alias.deleted":
            feed.alias_moved(self.graph, event.key, data["alias"], None)
        elif event.type == "lineage.received":
            openlineage.apply_event(self.graph, data["event"])
        elif event.type == "stream.seen":
            # The stream exists and was seen then; its rate comes from live counts only.
            feed.stream_seen(self.graph, data["model"], data["version"], 0, data["last_seen_ms"])

    def outbox(self, event: Event) -> list[dict[str, Any]]:
        """The OpenLineage events of a committed registry act (sent in its transaction)."""
        data, at = event.data, event.audit.at_ms
        if event.type == "version.registered":
            return emit.version_registered_events(
                data["model"],
                data["version"],
                data.get("training_datasets", []),
                data.get("evaluation_datasets", []),
                at,
            )
        if event.type == "alias.set":
            return emit.alias_moved_events(event.key, data["alias"], data["version"], at)
        if event.type == "dataset.registered":
            return emit.dataset_registered_events(
                data["name"], data["version"], data.get("source", ""), at
            )
        return []
