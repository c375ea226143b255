"""The registry's HTTP API: each operation a method, a path, a scope and a body schema.

======  ===================================================  =====  ===========================
method  path                                                 scope  what
======  ===================================================  =====  ===========================
POST    /api/v1/models                                       write  register a model
GET     /api/v1/models?name=&tag=k=v&alias=&deleted=         read   search models
GET     /api/v1/models/{name}                                read   one model, with aliases
PATCH   /api/v1/models/{name}                                write  description, team, tags
DELETE  /api/v1/models/{name}                                write  soft delete (reason)
POST    /api/v1/models/{model}/versions                      write  register a version
GET     /api/v1/models/{model}/versions                      read   its versions
GET     /api/v1/models/{model}/versions/{version}            read   one version
PATCH   /api/v1/models/{model}/versions/{version}            write  tags, status, metrics
DELETE  /api/v1/models/{model}/versions/{version}            write  soft delete (reason)
POST    /api/v1/models/{model}/versions/{version}/validations write record a validation
GET     /api/v1/models/{model}/aliases/{alias}               read   the version it names
PUT     /api/v1/models/{model}/aliases/{alias}               write  move it (gated; force:
                                                                    admin, with a reason)
DELETE  /api/v1/models/{model}/aliases/{alias}               write  remove it
GET     /api/v1/versions?model=&tag=&metric=auc>=0.9&status= read   search versions
POST    /api/v1/datasets                                     write  register a dataset version
GET     /api/v1/datasets?name=                               read   datasets
GET     /api/v1/datasets/{name}/versions/{version}           read   one dataset version
DELETE  /api/v1/datasets/{name}/versions/{version}           write  soft delete (reason)
GET     /api/v1/history/{kind}/{key}                         read   every event, with audit
GET     /api/v1/dump                                         admin  the whole state
======  ===================================================  =====  ===========================

Every write takes ``Idempotency-Key`` (required) and ``If-Match`` (the entity version it
expects); reads show ``entity_version``. Lineage's endpoints are in ``lineage_routes``.
"""

from __future__ import annotations

from typing import Any

from watchkeeper.control import Rejected
from watchkeeper.control.operations import Call, Operation, Reply, submits

from . import bodies
from .decide import version_key
from .index import Index


class Routes:
    def __init__(self, service: Any, index: Index) -> None:
        self.service = service  # a ControlService: submit(command) and the store
        self.index = index

    def operations(self) -> list[Operation]:
        w, r = "write", "read"
        model, version = "/api/v1/models/{name}", "/api/v1/models/{model}/versions/{version}"
        alias = "/api/v1/models/{model}/aliases/{alias}"
        dataset = "/api/v1/datasets/{name}/versions/{version}"
        wr = self._write
        return [
            Operation("POST", "/api/v1/models", w, "Register a model", wr("models.create"),
                      bodies.MODEL_CREATE, write=True, status=201, tag="models"),
            Operation("GET", "/api/v1/models", r, "Search models", self.list_models,
                      query=("name", "tag", "alias", "deleted"), tag="models"),
            Operation("GET", model, r, "One model", self.get_model, query=("deleted",),
                      tag="models"),
            Operation("PATCH", model, w, "Update a model", wr("models.update"),
                      bodies.MODEL_UPDATE, write=True, tag="models"),
            Operation("DELETE", model, w, "Delete a model (soft)", wr("models.delete"),
                      bodies.DELETE, write=True, tag="models"),
            Operation("POST", "/api/v1/models/{model}/versions", w, "Register a version",
                      wr("versions.register"), bodies.VERSION_REGISTER, write=True, status=201,
                      tag="versions"),
            Operation("GET", "/api/v1/models/{model}/versions", r, "A model's versions",
                      self.list_versions, query=("tag", "metric", "status", "deleted"),
                      tag="versions"),
            Operation("GET", version, r, "One version", self.get_version, query=("deleted",),
                      tag="versions"),
            Operation("PATCH", version, w, "Update a version", wr("versions.update"),
                      bodies.VERSION_UPDATE, write=True, tag="versions"),
            Operation("DELETE", version, w, "Delete a version (soft)", wr("versions.delete"),
                      bodies.DELETE, write=True, tag="versions"),
            Operation("POST", version + "/validations", w, "Record a validation result",
                      wr("versions.validate"), bodies.VALIDATION, write=True, status=201,
                      tag="versions"),
            Operation("GET", alias, r, "The version an alias names", self.get_alias,
                      tag="aliases"),
            Operation("PUT", alias, w, "Move an alias (gated)", wr("aliases.set"),
                      bodies.ALIAS_SET, write=True, tag="aliases"),
            Operation("DELETE", alias, w, "Remove an alias", wr("aliases.delete"),
                      bodies.DELETE, write=True, tag="aliases"),
            Operation("GET", "/api/v1/versions", r, "Search versions", self.search_versions,
                      query=("model", "tag", "metric", "status", "deleted"), tag="versions"),
            Operation("POST", "/api/v1/datasets", w, "Register a dataset version",
                      wr("datasets.register"), bodies.DATASET_REGISTER, write=True, status=201,
                      tag="datasets"),
            Operation("GET", "/api/v1/datasets", r, "Datasets", self.list_datasets,
                      query=("name", "deleted"), tag="datasets"),
            Operation("GET", dataset, r, "One dataset version", self.get_dataset,
                      query=("deleted",), tag="datasets"),
            Operation("DELETE", dataset, w, "Delete a dataset version (soft)",
                      wr("datasets.delete"), bodies.DELETE, write=True, tag="datasets"),
        ]  # fmt: skip

    def _write(self, name: str):
        return submits(self.service, name)

    # -- reads ----------------------------------------------------------------------------

    def _found(self, kind: str, key: str, call: Call, what: str):
        entity = self.index.get(kind, key, deleted=call.flag("deleted"))
        if entity is None:
            raise Rejected(404, f"no {what}")
        return entity

    async def list_models(self, call: Call) -> Reply:
        found = self.index.models(
            call.one("name"), call.many("tag"), call.one("alias"), call.flag("deleted")
        )
        return Reply(200, {"models": found})

    async def get_model(self, call: Call) -> Reply:
        name = call.params["name"]
        entity = self._found("model", name, call, f"model {name!r}")
        return Reply(200, self.index.model_view(entity))

    async def list_versions(self, call: Call) -> Reply:
        model = call.params["model"]
        self._found("model", model, call, f"model {model!r}")
        found = self.index.versions(
            model, call.many("tag"), call.many("metric"), call.one("status"), call.flag("deleted")
        )
        return Reply(200, {"versions": found})

    async def search_versions(self, call: Call) -> Reply:
        found = self.index.versions(
            call.one("model"),
            call.many("tag"),
            call.many("metric"),
            call.one("status"),
            call.flag("deleted"),
        )
        return Reply(200, {"versions": found})

    async def get_version(self, call: Call) -> Reply:
        model, version = call.params["model"], call.params["version"]
        key = version_key(model, version)
        return Reply(200, self._found("version", key, call, f"version {key!r}").view())

    async def get_alias(self, call: Call) -> Reply:
        model, alias = call.params["model"], call.params["alias"]
        entity = self._found("model", model, call, f"model {model!r}")
        version = entity.data["aliases"].get(alias)
        if version is None:
            raise Rejected(404, f"model {model!r} has no alias {alias!r}")
        held = self.index.get("version", version_key(model, version))
        return Reply(200, {"model": model, "alias": alias, "version": held.view() if held else {}})

    async def list_datasets(self, call: Call) -> Reply:
        return Reply(200, {"datasets": self.index.datasets(call.one("name"), call.flag("deleted"))})

    async def get_dataset(self, call: Call) -> Reply:
        key = version_key(call.params["name"], call.params["version"])
        return Reply(200, self._found("dataset", key, call, f"dataset {key!r}").view())
