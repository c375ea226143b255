"""The registry's Python client: one method per operation, dicts as the API answers them,
:class:`~watchkeeper.control.client.ApiError` with the service's reason on refusal.

Writes take ``idempotency_key`` (a fresh one when not given; the client retries with the
same key when the service is unreachable or answers 503) and ``expected_version`` (sent
as ``If-Match``; a stale one is refused with 409).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..control.client import Client


def _q(part: str) -> str:
    return quote(part, safe="")


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class RegistryClient(Client):
    # -- models ---------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        description: str = "",
        owner_team: str = "",
        tags: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body = {"name": name, "description": description, "owner_team": owner_team,
                "tags": tags or {}}  # fmt: skip
        return self.write("POST", "/api/v1/models", body, idempotency_key=idempotency_key)

    def update_model(
        self,
        name: str,
        description: str | None = None,
        owner_team: str | None = None,
        tags: dict[str, str] | None = None,
        remove_tags: list[str] | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body = _drop_none(
            description=description, owner_team=owner_team, tags=tags, remove_tags=remove_tags
        )
        return self.write(
            "PATCH", f"/api/v1/models/{_q(name)}", body, expected_version, idempotency_key
        )

    def delete_model(self, name: str, reason: str = "", **kw: Any) -> dict[str, Any]:
        return self.write("DELETE", f"/api/v1/models/{_q(name)}", {"reason": reason}, **kw)

    def get_model(self, name: str, deleted: bool = False) -> dict[str, Any]:
        return self.get(f"/api/v1/models/{_q(name)}", deleted="true" if deleted else None)

    def list_models(
        self,
        name: str | None = None,
        tag: str | list[str] | None = None,
        alias: str | None = None,
        deleted: bool = False,
    ) -> dict[str, Any]:
        return self.get(
            "/api/v1/models", name=name, tag=tag, alias=alias, deleted="true" if deleted else None
        )

    # -- versions -------------------------------------------------------------------------

    def register_version(
        self, model: str, version: str, idempotency_key: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        body = {"version": version, **{k: v for k, v in fields.items() if v is not None}}
        return self.write(
            "POST", f"/api/v1/models/{_q(model)}/versions", body, idempotency_key=idempotency_key
        )

    def get_version(self, model: str, version: str, deleted: bool = False) -> dict[str, Any]:
        return self.get(
            f"/api/v1/models/{_q(model)}/versions/{_q(version)}",
            deleted="true" if deleted else None,
        )

    def list_versions(
        self, model: str, tag: Any = None, metric: Any = None, status: str | None = None
    ) -> dict[str, Any]:
        return self.get(
            f"/api/v1/models/{_q(model)}/versions", tag=tag, metric=metric, status=status
        )

    def search_versions(self, **query: Any) -> dict[str, Any]:
        return self.get("/api/v1/versions", **query)

    def update_version(self, model: str, version: str, **fields: Any) -> dict[str, Any]:
        expected = fields.pop("expected_version", None)
        key = fields.pop("idempotency_key", None)
        return self.write(
            "PATCH",
            f"/api/v1/models/{_q(model)}/versions/{_q(version)}",
            _drop_none(**fields),
            expected,
            key,
        )

    def delete_version(self, model: str, version: str, reason: str = "", **kw: Any) -> Any:
        path = f"/api/v1/models/{_q(model)}/versions/{_q(version)}"
        return self.write("DELETE", path, {"reason": reason}, **kw)

    def record_validation(
        self,
        model: str,
        version: str,
        passed: bool,
        metrics: dict[str, float] | None = None,
        validator: str = "",
        details: str = "",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body = {"passed": passed, "metrics": metrics or {}, "validator": validator,
                "details": details}  # fmt: skip
        path = f"/api/v1/models/{_q(model)}/versions/{_q(version)}/validations"
        return self.write("POST", path, body, idempotency_key=idempotency_key)

    # -- aliases --------------------------------------------------------------------------

    def set_alias(
        self,
        model: str,
        alias: str,
        version: str,
        reason: str = "",
        force: bool = False,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body = {"version": version, "reason": reason, "force": force}
        path = f"/api/v1/models/{_q(model)}/aliases/{_q(alias)}"
        return self.write("PUT", path, body, expected_version, idempotency_key)

    def delete_alias(self, model: str, alias: str, reason: str = "", **kw: Any) -> Any:
        path = f"/api/v1/models/{_q(model)}/aliases/{_q(alias)}"
        return self.write("DELETE", path, {"reason": reason}, **kw)

    def get_alias(self, model: str, alias: str) -> dict[str, Any]:
        return self.get(f"/api/v1/models/{_q(model)}/aliases/{_q(alias)}")

    # -- datasets -------------------------------------------------------------------------

    def register_dataset(
        self, name: str, version: str, idempotency_key: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        body = {"name": name, "version": version,
                **{k: v for k, v in fields.items() if v is not None}}  # fmt: skip
        return self.write("POST", "/api/v1/datasets", body, idempotency_key=idempotency_key)

    def get_dataset(self, name: str, version: str) -> dict[str, Any]:
        return self.get(f"/api/v1/datasets/{_q(name)}/versions/{_q(version)}")

    def list_datasets(self, name: str | None = None) -> dict[str, Any]:
        return self.get("/api/v1/datasets", name=name)

    # -- history and lineage --------------------------------------------------------------

    def history(self, kind: str, key: str) -> dict[str, Any]:
        return self.get(f"/api/v1/history/{_q(kind)}/{_q(key)}")

    def dump(self) -> dict[str, Any]:
        return self.get("/api/v1/dump")
