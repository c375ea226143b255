"""JSON-schema building blocks every control-plane API's bodies are made of: names,
versions, free text, metrics, and a closed object (an unknown field is a 400 naming it)."""

from __future__ import annotations

from typing import Any

NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"}
VERSION = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$"}
TEXT = {"type": "string", "maxLength": 10_000}
SHORT = {"type": "string", "maxLength": 1_000}
METRICS = {
    "type": "object",
    "maxProperties": 1_000,
    "propertyNames": {"maxLength": 250},
    "additionalProperties": {"type": "number"},
}


def closed(required: list[str], **properties: Any) -> dict[str, Any]:
    """An object with exactly these properties, ``required`` among them."""
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }
