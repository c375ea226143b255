"""The JSON schemas of the retrain API's request bodies."""

from __future__ import annotations

from watchkeeper.control.schemas import METRICS, NAME, SHORT, TEXT, VERSION, closed

TRIGGER = closed(["model"], model=NAME, version=VERSION, reason=TEXT, dedup_key=SHORT)
REASON = closed([], reason=TEXT)
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
        closed(["kind", "message"], kind={"const": "progress"}, message=TEXT),
        closed(["kind", "reason"], kind={"const": "failed"}, reason=TEXT),
        closed(
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
