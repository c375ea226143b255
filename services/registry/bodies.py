"""The JSON schemas of the registry's request bodies: what the API checks (a wrong or
unknown field is a 400 naming it) and what its OpenAPI document shows."""

from __future__ import annotations

from typing import Any

NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"}
VERSION = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$"}
ALIAS = "^[a-z][a-z0-9_-]{0,63}$"
TEXT = {"type": "string", "maxLength": 10_000}
SHORT = {"type": "string", "maxLength": 1_000}
TAGS = {
    "type": "object",
    "maxProperties": 200,
    "propertyNames": {"maxLength": 250},
    "additionalProperties": {"type": "string", "maxLength": 5_000},
}
PARAMS = TAGS
METRICS = {
    "type": "object",
    "maxProperties": 1_000,
    "propertyNames": {"maxLength": 250},
    "additionalProperties": {"type": "number"},
}
DATASET_REF = {
    "type": "object",
    "required": ["name", "version"],
    "additionalProperties": False,
    "properties": {"name": NAME, "version": VERSION},
}
REFS = {"type": "array", "maxItems": 100, "items": DATASET_REF}
FIELDS = {
    "type": "array",
    "maxItems": 10_000,
    "items": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": SHORT, "type": SHORT},
    },
}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


MODEL_CREATE = _object(["name"], name=NAME, description=TEXT, owner_team=SHORT, tags=TAGS)
MODEL_UPDATE = _object(
    [],
    description=TEXT,
    owner_team=SHORT,
    tags=TAGS,
    remove_tags={"type": "array", "items": SHORT, "maxItems": 200},
)
DELETE = _object([], reason=TEXT)
VERSION_REGISTER = _object(
    ["version"],
    version=VERSION,
    artifact_uri=SHORT,
    flavor=SHORT,
    signature=_object([], inputs=FIELDS, outputs=FIELDS),
    training_datasets=REFS,
    evaluation_datasets=REFS,
    code_commit=SHORT,
    params=PARAMS,
    metrics=METRICS,
    tags=TAGS,
    status={"enum": ["pending", "ready", "failed"]},
    description=TEXT,
    run_id=SHORT,
)
VERSION_UPDATE = _object(
    [],
    tags=TAGS,
    status={"enum": ["pending", "ready", "failed"]},
    description=TEXT,
    metrics=METRICS,
)
VALIDATION = _object(
    ["passed"], passed={"type": "boolean"}, metrics=METRICS, validator=SHORT, details=TEXT
)
ALIAS_SET = _object(["version"], version=VERSION, reason=TEXT, force={"type": "boolean"})
DATASET_REGISTER = _object(
    ["name", "version"],
    name=NAME,
    version=VERSION,
    uri=SHORT,
    content_hash={"type": "string", "pattern": "^(sha256:)?[0-9a-f]{64}$"},
    schema=FIELDS,
    row_count={"type": "integer", "minimum": 0},
    time_range=_object(
        ["start_ms", "end_ms"],
        start_ms={"type": "integer"},
        end_ms={"type": "integer"},
    ),
    source=SHORT,
    tags=TAGS,
)
