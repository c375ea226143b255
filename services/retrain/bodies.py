"""The JSON schemas of the retrain API's request bodies."""

from __future__ import annotations

from typing import Any

NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"}
VERSION = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$"}
TEXT = {"type": "string", "maxLength": 10_000}
SHORT = {"type": "string", "maxLength": 1_000}
METRICS = {
    "type": "object",
    "maxProperties": 1_000,
    "additionalProperties": {"type": "number"},
}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


TRIGGER = _object(["model"], model=NAME, version=VERSION, reason=TEXT, dedup_key=SHORT)
REASON = _object([], reason=TEXT)
DATASET = {
    "type": "object",
    "required": ["name", "version"],
    "additionalProperties": False,
    "properties": {
        "name": NAME,
        "version": VERSION,
        "uri": SHORT,
        "content_hash": {"type": "string", "pattern": "^(sha256:)?[0-9a-f]{64}$"},
        "row_count": {"type": "integer", "minimum": 0},
    },
}
CALLBACK = {
    "oneOf": [
        _object(["kind", "message"], kind={"const": "progress"}, message=TEXT),
        _object(["kind", "reason"], kind={"const": "failed"}, reason=TEXT),
        _object(
            ["kind", "version", "artifact_uri"],
            kind={"const": "candidate"},
            version=VERSION,
            artifact_uri=SHORT,
            metrics=METRICS,
            datasets={"type": "array", "maxItems": 100, "items": DATASET},
            params={
                "type": "object",
                "maxProperties": 200,
                "additionalProperties": {"type": "string", "maxLength": 5_000},
            },
        ),
    ]
}
