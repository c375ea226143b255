"""The OpenAPI 3.1 document of a control-plane API, made from its operations (one list is
both what is routed and what is described, so the two cannot drift apart).

>>> from watchkeeper.control.operations import Operation
>>> async def get(call): ...
>>> doc = document("registry", "1.0", [
...     Operation("GET", "/api/v1/models/{name}", "read", "One model", get, query=("at",))])
>>> doc["openapi"], list(doc["paths"])
('3.1.0', ['/api/v1/models/{name}'])
>>> [p["name"] for p in doc["paths"]["/api/v1/models/{name}"]["get"]["parameters"]]
['name', 'at']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .operations import Operation

_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?}")
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "Why the request was refused."}},
}


def document(title: str, version: str, operations: Iterable[Operation]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = _PARAM.sub(r"{\1}", op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR},
        },
    }


def _operation(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(op.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in op.query
    ]
    if op.write:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "A retry with the same key gets the first answer.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            }
        )
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": "The entity version the caller expects; stale: 409.",
                "schema": {"type": "string"},
            }
        )
    error = {
        "description": "Refused, with the reason",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.operation_id,
        "responses": {
            str(op.status): {
                "description": "OK",
                "content": {"application/json": {"schema": op.answer or {"type": "object"}}},
            },
            "4XX": error,
        },
    }
    if op.tag:
        doc["tags"] = [op.tag]
    if parameters:
        doc["parameters"] = parameters
    if op.scope is not None:
        doc["security"] = [{"bearer": []}]
        doc["x-scope"] = op.scope
    if op.body is not None or op.raw:
        schema = op.body if op.body is not None else {"type": "object"}
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return doc
