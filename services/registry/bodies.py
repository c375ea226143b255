"""The JSON schemas of the registry's request bodies: what the API checks (a wrong or
unknown field is a 400 naming it) and what its OpenAPI document shows."""

from __future__ import annotations

from watchkeeper.control.schemas import METRICS, NAME, SHORT, TEXT, VERSION, closed

ALIAS = "^[a-z][a-z0-9_-]{0,63}$"
TAGS = {
    "type": "object",
    "maxProperties": 200,
    "propertyNames": {"maxLength": 250},
    "additionalProperties": {"type": "string", "maxLength": 5_000},
}
PARAMS = TAGS
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


MODEL_CREATE = closed(["name"], name=NAME, description=TEXT, owner_team=SHORT, tags=TAGS)
MODEL_UPDATE = closed(
    [],
    description=TEXT,
    owner_team=SHORT,
    tags=TAGS,
    remove_tags={"type": "array", "items": SHORT, "maxItems": 200},
)
DELETE = closed([], reason=TEXT)
VERSION_REGISTER = closed(
    ["version"],
    version=VERSION,
    artifact_uri=SHORT,
    flavor=SHORT,
    signature=closed([], inputs=FIELDS, outputs=FIELDS),
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
VERSION_UPDATE = closed(
    [],
    tags=TAGS,
    status={"enum": ["pending", "ready", "failed"]},
    description=TEXT,
    metrics=METRICS,
)
VALIDATION = closed(
    ["passed"], passed={"type": "boolean"}, metrics=METRICS, validator=SHORT, details=TEXT
)
ALIAS_SET = closed(["version"], version=VERSION, reason=TEXT, force={"type": "boolean"})
DATASET_REGISTER = closed(
    ["name", "version"],
    name=NAME,
    version=VERSION,
    uri=SHORT,
    content_hash={"type": "string", "pattern": "^(sha256:)?[0-9a-f]{64}$"},
    schema=FIELDS,
    row_count={"type": "integer", "minimum": 0},
    time_range=closed(
        ["start_ms", "end_ms"],
        start_ms={"type": "integer"},
        end_ms={"type": "integer"},
    ),
    source=SHORT,
    tags=TAGS,
)
