"""Lineage over HTTP: OpenLineage's HTTP transport in, Marquez-shaped graph and impact out.

======  =========================================  =====  ===================================
method  path                                       scope  what
======  =========================================  =====  ===================================
POST    /api/v1/lineage                            write  an OpenLineage event (the client's
                                                          HTTP transport; gzip accepted)
GET     /api/v1/lineage?nodeId=&depth=             read   the graph around a node (Marquez)
GET     /api/v1/lineage/upstream?nodeId=&depth=    read   what a node comes from
GET     /api/v1/lineage/downstream?nodeId=&depth=  read   what a node feeds
GET     /api/v1/lineage/impact?nodeId=             read   datasets, versions, aliases and
                                                          live streams downstream
======  =========================================  =====  ===================================

OpenLineage's client sends no Idempotency-Key: the key of an event is its own identity
(run id, event type, event time, job), so a resent event is recorded once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from watchkeeper.control import Command, Rejected
from watchkeeper.control.operations import Call, Operation, Reply

from .lineage import openlineage
from .lineage.graph import UnknownNode
from .lineage.openlineage import InvalidEvent
from .lineage_view import Lineage


def event_key(event: dict[str, Any]) -> str:
    """The dedup key of an OpenLineage event: the same event by HTTP or Kafka is one.

    >>> a = {"eventType": "START", "run": {"runId": "r1"}, "job": {"name": "j"}}
    >>> b = {"job": {"name": "j"}, "run": {"runId": "r1"}, "eventType": "START"}
    >>> event_key(a) == event_key(b), event_key(a) == event_key({**a, "eventType": "COMPLETE"})
    (True, False)
    """
    text = json.dumps(event, sort_keys=True, separators=(",", ":"))
    return "lineage:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def lineage_command(event: dict[str, Any], actor: str, source: str, at_ms: int) -> Command:
    return Command("lineage.record", event, actor, event_key(event), source, at_ms=at_ms)


class LineageRoutes:
    def __init__(self, service: Any, lineage: Lineage) -> None:
        self.service = service
        self.lineage = lineage

    def operations(self) -> list[Operation]:
        query = ("nodeId", "depth")
        return [
            Operation("POST", "/api/v1/lineage", "write", "Record an OpenLineage event",
                      self.post_event, raw=True, status=201, tag="lineage"),
            Operation("GET", "/api/v1/lineage", "read", "The graph around a node (Marquez)",
                      self.get_lineage, query=query, tag="lineage"),
            Operation("GET", "/api/v1/lineage/upstream", "read", "Upstream of a node",
                      self.get_upstream, query=query, tag="lineage"),
            Operation("GET", "/api/v1/lineage/downstream", "read", "Downstream of a node",
                      self.get_downstream, query=query, tag="lineage"),
            Operation("GET", "/api/v1/lineage/impact", "read", "What a change reaches",
                      self.get_impact, query=("nodeId",), tag="lineage"),
        ]  # fmt: skip

    async def post_event(self, call: Call) -> Reply:
        try:
            openlineage.check_event(call.body)
        except InvalidEvent as exc:
            raise Rejected(400, f"{exc.field}: {exc.reason}") from exc
        if call.body.get("producer") == openlineage.PRODUCER:
            raise Rejected(400, "producer: events of the registry itself are not taken back")
        if "run" not in call.body:
            return Reply(200, {"recorded": False, "why": "only run events change the graph"})
        command = lineage_command(call.body, call.actor, call.source, call.at_ms)
        answer = await self.service.submit(command)
        return Reply(answer.status, answer.body)

    def _node(self, call: Call) -> str:
        node = call.one("nodeId")
        if not node:
            raise Rejected(400, "nodeId is required")
        return node

    def _depth(self, call: Call) -> int:
        text = call.one("depth", "20") or "20"
        if not text.isdigit() or int(text) > 100:
            raise Rejected(400, "depth must be a whole number from 0 to 100")
        return int(text)

    async def _answer(self, work) -> Reply:
        await self.lineage.built.wait()  # built after a restart's replay, in moments
        try:
            return Reply(200, work())
        except UnknownNode as exc:
            raise Rejected(404, f"no node {exc.args[0]!r} in the lineage graph") from exc
        except ValueError as exc:
            raise Rejected(400, str(exc)) from exc

    async def get_lineage(self, call: Call) -> Reply:
        node, depth = self._node(call), self._depth(call)
        return await self._answer(lambda: self.lineage.graph.lineage(node, depth))

    async def get_upstream(self, call: Call) -> Reply:
        node, depth = self._node(call), self._depth(call)
        return await self._answer(lambda: {"nodes": self.lineage.graph.upstream(node, depth)})

    async def get_downstream(self, call: Call) -> Reply:
        node, depth = self._node(call), self._depth(call)
        return await self._answer(lambda: {"nodes": self.lineage.graph.downstream(node, depth)})

    async def get_impact(self, call: Call) -> Reply:
        node = self._node(call)
        return await self._answer(lambda: {"nodeId": node, **self.lineage.graph.impact(node)})
