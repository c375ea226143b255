"""The rollout service's HTTP API.

======  ===============================================  =====  ============================
method  path                                             scope  what
======  ===============================================  =====  ============================
POST    /api/v1/rollouts                                 write  start a canary, blue-green
                                                                or A/B test (409: the model
                                                                is rolling out already)
GET     /api/v1/rollouts?model=&state=                   read   rollouts, newest first
GET     /api/v1/rollouts/{id}                            read   one, with its timeline and
                                                                the live analysis
POST    /api/v1/rollouts/{id}/pause|resume|abort         write  by hand, with a reason
POST    /api/v1/rollouts/{id}/rollback                   write  canary: back to the baseline;
                                                                blue-green: the other colour
POST    /api/v1/rollouts/{id}/switch                     write  blue-green: the other colour
GET     /api/v1/rollouts/{id}/verdict                    read   an A/B test's verdict now
GET     /api/v1/routing, /api/v1/routing/{model}         read   the live splits
GET     /routing/{model}                                 read   the same, short
GET     /api/v1/routing/{model}/httproute                read   as a Gateway API HTTPRoute
GET     /api/v1/routing/{model}/virtualservice           read   as an Istio VirtualService
GET     /api/v1/history/{kind}/{key}                     read   every event, with audit
GET     /api/v1/dump                                     admin  the whole state
======  ===============================================  =====  ============================
"""

from __future__ import annotations

import asyncio
from typing import Any

from watchkeeper.control import Entity, Rejected
from watchkeeper.control.catalog import Catalog
from watchkeeper.control.operations import Call, Operation, Reply, submits
from watchkeeper.sdk._assignment import Split

from . import bodies, export
from .analysis import Analyses


class Routes:
    def __init__(self, service: Any, catalog: Catalog, analyses: Analyses, registry: Any):
        self.service = service
        self.catalog = catalog
        self.analyses = analyses
        self.registry = registry

    def operations(self) -> list[Operation]:
        w, r = "write", "read"
        one = "/api/v1/rollouts/{id}"
        ops = [
            Operation(
                "POST",
                "/api/v1/rollouts",
                w,
                "Start a rollout",
                self.create,
                bodies.ROLLOUT_CREATE,
                write=True,
                status=201,
                tag="rollouts",
            ),
            Operation(
                "GET",
                "/api/v1/rollouts",
                r,
                "Rollouts",
                self.list_rollouts,
                query=("model", "state"),
                tag="rollouts",
            ),
            Operation("GET", one, r, "One rollout", self.get_rollout, tag="rollouts"),
            Operation(
                "GET", one + "/verdict", r, "An A/B test's verdict", self.verdict, tag="rollouts"
            ),
            Operation(
                "GET", "/api/v1/routing", r, "Every live split", self.all_routing, tag="routing"
            ),
            Operation(
                "GET", "/api/v1/routing/{model}", r, "A model's split", self.routing, tag="routing"
            ),
            Operation("GET", "/routing/{model}", r, "A model's split", self.routing, tag="routing"),
            Operation(
                "GET",
                "/api/v1/routing/{model}/httproute",
                r,
                "As an HTTPRoute",
                self.http_route,
                query=("namespace", "gateway", "port", "template"),
                tag="routing",
            ),
            Operation(
                "GET",
                "/api/v1/routing/{model}/virtualservice",
                r,
                "As a VirtualService",
                self.virtual_service,
                query=("namespace", "host"),
                tag="routing",
            ),
        ]
        for act in ("pause", "resume", "abort", "rollback", "switch"):
            ops.append(
                Operation(
                    "POST",
                    f"{one}/{act}",
                    w,
                    f"{act.capitalize()} a rollout",
                    self._write(f"rollouts.{act}"),
                    bodies.REASON,
                    write=True,
                    tag="rollouts",
                )
            )
        return ops

    def _write(self, name: str):
        return submits(self.service, name)

    async def create(self, call: Call) -> Reply:
        if self.registry is not None:
            await self._known_versions(call.body)
        answer = await self.service.submit(call.command("rollouts.create"))
        return Reply(answer.status, answer.body)

    async def _known_versions(self, body: dict[str, Any]) -> None:
        from watchkeeper.control.client import ApiError

        model = body["model"]
        versions = [body.get("baseline"), body.get("candidate")]
        versions += [v["version"] for v in body.get("variants", [])]
        loop = asyncio.get_running_loop()
        for version in dict.fromkeys(v for v in versions if v):
            try:
                await loop.run_in_executor(None, self.registry.get_version, model, version)
            except ApiError as exc:
                if exc.status == 404:
                    raise Rejected(
                        400, f"unknown version: the registry has no {model} version {version!r}"
                    ) from exc
                raise Rejected(
                    503,
                    f"the registry could not say whether {model} {version} exists: {exc.reason}",
                ) from exc

    # -- reads ----------------------------------------------------------------------------

    def _found(self, rid: str) -> Entity:
        entity = self.catalog.of("rollout").get(rid)
        if entity is None:
            raise Rejected(404, f"no rollout {rid!r}")
        return entity

    async def list_rollouts(self, call: Call) -> Reply:
        model, state = call.one("model"), call.one("state")
        found = [
            _summary(e)
            for e in self.catalog.of("rollout").values()
            if (model is None or e.data["model"] == model)
            and (state is None or e.data["state"] == state)
        ]
        found.sort(key=lambda r: r["created_ms"], reverse=True)
        return Reply(200, {"rollouts": found})

    async def get_rollout(self, call: Call) -> Reply:
        entity = self._found(call.params["id"])
        view = entity.view()
        view["analysis"] = self.analyses.snapshot(entity.key, entity.data["model"])
        return Reply(200, view)

    async def verdict(self, call: Call) -> Reply:
        entity = self._found(call.params["id"])
        if entity.data["strategy"] != "ab":
            raise Rejected(
                409, f"rollout {entity.key} is a {entity.data['strategy']}, not an A/B test"
            )
        live = self.analyses.snapshot(entity.key, entity.data["model"])
        return Reply(
            200,
            {
                "id": entity.key,
                "state": entity.data["state"],
                "verdict": live if live is not None else entity.data.get("verdict"),
            },
        )

    def _split(self, model: str) -> Split:
        entity = self.catalog.of("routing").get(model)
        if entity is None:
            raise Rejected(404, f"model {model!r} has no split")
        doc = dict(entity.data["split"])
        doc["seq"] = entity.version
        return Split.from_dict(doc)

    async def all_routing(self, call: Call) -> Reply:
        return Reply(
            200, {"routing": [self._split(m).to_dict() for m in sorted(self.catalog.of("routing"))]}
        )

    async def routing(self, call: Call) -> Reply:
        return Reply(200, self._split(call.params["model"]).to_dict())

    async def http_route(self, call: Call) -> Reply:
        split = self._split(call.params["model"])
        try:
            port = int(call.one("port", "80") or 80)
        except ValueError as exc:
            raise Rejected(400, "port must be a number") from exc
        template = call.one("template", export.TEMPLATE) or export.TEMPLATE
        try:
            doc = export.http_route(
                split,
                namespace=call.one("namespace", "default") or "default",
                gateway=call.one("gateway", "gateway") or "gateway",
                port=port,
                template=template,
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise Rejected(400, f"template: {exc!r} (fields: model, version, variant)") from exc
        return Reply(200, doc)

    async def virtual_service(self, call: Call) -> Reply:
        split = self._split(call.params["model"])
        doc = export.virtual_service(
            split, namespace=call.one("namespace", "default") or "default", host=call.one("host")
        )
        return Reply(200, doc)


def _summary(entity: Entity) -> dict[str, Any]:
    d = entity.data
    return {
        "id": entity.key,
        "model": d["model"],
        "strategy": d["strategy"],
        "state": d["state"],
        "step": d.get("step"),
        "created_ms": d["created_ms"],
        "entity_version": entity.version,
    }
