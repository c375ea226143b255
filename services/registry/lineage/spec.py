"""OpenLineage 2-0-2's event schema, restated here so validation needs no network.

No package on PyPI ships ``OpenLineage.json`` (``openlineage-python`` carries only classes
generated from it), so the schema is written out below, definition for definition, from
https://openlineage.io/spec/2-0-2/OpenLineage.json, the version openlineage-python 1.54.0
stamps in its events' ``schemaURL``. The ``$defs`` keep the spec's names, so error paths and
``#/$defs/...`` pointers read as the spec's. Facets are checked as the core spec checks
them (``_producer`` and ``_schemaURL``, anything else allowed); the facet schemas of their
own are not enforced, as the core spec does not reference them either.

>>> sorted(SCHEMA["$defs"])[:4]
['BaseEvent', 'BaseFacet', 'Dataset', 'DatasetEvent']
>>> SCHEMA["$defs"]["RunEvent"]["allOf"][1]["required"]
['run', 'job']
"""

from __future__ import annotations

from typing import Any

SPEC_VERSION = "2-0-2"
SPEC_URL = f"https://openlineage.io/spec/{SPEC_VERSION}/OpenLineage.json"
EVENT_TYPES = ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _string(fmt: str | None = None) -> dict[str, str]:
    return {"type": "string", "format": fmt} if fmt else {"type": "string"}


def _facets(facet: str) -> dict[str, Any]:
    # The spec wraps each facets map in a one-branch anyOf; kept, so paths match.
    return {
        "type": "object",
        "anyOf": [{"type": "object", "additionalProperties": _ref(facet)}],
    }


def _event(extra: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [_ref("BaseEvent"), {"type": "object", **extra}]}


def _io(key: str, facet: str) -> dict[str, Any]:
    return {
        "type": "object",
        "allOf": [_ref("Dataset"), {"type": "object", "properties": {key: _facets(facet)}}],
    }


def _deletable_facet() -> dict[str, Any]:
    return {
        "type": "object",
        "allOf": [
            _ref("BaseFacet"),
            {"type": "object", "properties": {"_deleted": {"type": "boolean"}}},
        ],
    }


_DATASETS = {
    "inputs": {"type": "array", "items": _ref("InputDataset")},
    "outputs": {"type": "array", "items": _ref("OutputDataset")},
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SPEC_URL,
    "$defs": {
        "BaseEvent": {
            "type": "object",
            "properties": {
                "eventTime": _string("date-time"),
                "producer": _string("uri"),
                "schemaURL": _string("uri"),
            },
            "required": ["eventTime", "producer", "schemaURL"],
        },
        "RunEvent": _event(
            {
                "properties": {
                    "eventType": {"type": "string", "enum": EVENT_TYPES},
                    "run": _ref("Run"),
                    "job": _ref("Job"),
                    **_DATASETS,
                },
                "required": ["run", "job"],
            }
        ),
        "DatasetEvent": _event(
            {
                "properties": {"dataset": _ref("StaticDataset")},
                "required": ["dataset"],
                "not": {"required": ["job", "run"]},
            }
        ),
        "JobEvent": _event(
            {
                "properties": {"job": _ref("Job"), **_DATASETS},
                "required": ["job"],
                "not": {"required": ["run"]},
            }
        ),
        "Run": {
            "type": "object",
            "properties": {"runId": _string("uuid"), "facets": _facets("RunFacet")},
            "required": ["runId"],
        },
        "RunFacet": {"type": "object", "allOf": [_ref("BaseFacet")]},
        "Job": {
            "type": "object",
            "properties": {
                "namespace": _string(),
                "name": _string(),
                "facets": _facets("JobFacet"),
            },
            "required": ["namespace", "name"],
        },
        "JobFacet": _deletable_facet(),
        "InputDataset": _io("inputFacets", "InputDatasetFacet"),
        "InputDatasetFacet": {"type": "object", "allOf": [_ref("BaseFacet")]},
        "OutputDataset": _io("outputFacets", "OutputDatasetFacet"),
        "OutputDatasetFacet": {"type": "object", "allOf": [_ref("BaseFacet")]},
        "Dataset": {
            "type": "object",
            "properties": {
                "namespace": _string(),
                "name": _string(),
                "facets": _facets("DatasetFacet"),
            },
            "required": ["namespace", "name"],
        },
        "StaticDataset": {"type": "object", "allOf": [_ref("Dataset")]},
        "DatasetFacet": _deletable_facet(),
        "BaseFacet": {
            "type": "object",
            "properties": {"_producer": _string("uri"), "_schemaURL": _string("uri")},
            "additionalProperties": True,
            "required": ["_producer", "_schemaURL"],
        },
    },
    "oneOf": [_ref("RunEvent"), _ref("DatasetEvent"), _ref("JobEvent")],
}
