"""OpenLineage events in: checked against the spec (``spec.SCHEMA``), mapped onto the graph;
and out: ``run_event`` builds the spec-valid RunEvent the registry emits for its actions.

A bad event raises ``InvalidEvent`` naming the field as a JSON path (``run.runId``,
``inputs[0].name``); ``to_dict()`` is the 400 body (HTTP) or the dead-letter reason (Kafka).
Nothing else escapes: hostile shapes (deep nesting, huge strings, non-objects, bad JSON)
are refused by a bounded, iterative look before the schema sees them.

>>> event = run_event(("airflow", "etl.clicks"), [("s3://lake", "raw/clicks")],
...                   [("watchkeeper", "clicks")], run_id="0b5e9f2a-1c1d-4f55-8c2b-6d2a2f7e0c11",
...                   event_type="COMPLETE", event_time=1_700_000_000_000,
...                   producer="https://github.com/apache/airflow")
>>> event["eventTime"], check_event(event)
('2023-11-14T22:13:20.000Z', 'RunEvent')
>>> from .graph import LineageGraph
>>> g = LineageGraph(); apply_event(g, event)["job"]
'job:airflow:etl.clicks'
>>> g.out_edges("job:airflow:etl.clicks"), g.attrs("job:airflow:etl.clicks")["state"]
(['dataset:watchkeeper:clicks'], 'COMPLETE')
>>> del event["run"]["runId"]
>>> try:
...     check_event(event)
... except InvalidEvent as e:
...     print(e.field, "|", e.reason)
run.runId | 'runId' is a required property
"""

from __future__ import annotations

import json
import re
import uuid
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from .graph import LineageGraph
from .ids import alias_id, dataset_id, job_id, version_id
from .spec import SCHEMA, SPEC_URL

# Bounds of the look before the schema: far above any real event (column lineage facets
# nest about eight deep), far below what would hurt the service.
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
MAX_STRING = 64 * 1024
MAX_VALUES = 100_000
# The registry's own model versions and aliases as OpenLineage datasets (docs/registry-lineage.md).
MODELS_NAMESPACE = "watchkeeper-models"
ALIASES_NAMESPACE = "watchkeeper-aliases"
PRODUCER = "urn:watchkeeper:registry"
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S*\Z")


class InvalidEvent(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def to_dict(self) -> dict[str, str]:
        return {"error": "invalid OpenLineage event", "field": self.field, "reason": self.reason}


# -- formats: JSON Schema leaves them to the validator --------------------------------

_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    # Naive times are taken as UTC: the client's own examples send datetime.now().isoformat().
    return not isinstance(value, str) or _parse_time(value) is not None


@_formats.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    if isinstance(value, str):
        uuid.UUID(value)
    return True


@_formats.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or _URI.match(value) is not None


def _validator(kind: str) -> Draft202012Validator:
    schema = {k: v for k, v in SCHEMA.items() if k != "oneOf"}
    schema["$ref"] = f"#/$defs/{kind}"
    return Draft202012Validator(schema, format_checker=_formats)


_VALIDATORS = {kind: _validator(kind) for kind in ("RunEvent", "DatasetEvent", "JobEvent")}


# -- checking -------------------------------------------------------------------------


def parse_body(body: bytes, content_encoding: str | None = None) -> dict[str, Any]:
    """The event of an HTTP body (the client's HTTP transport may gzip it), checked."""
    if content_encoding and content_encoding.lower() == "gzip":
        try:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            body = inflater.decompress(body, MAX_BODY_BYTES + 1)
        except zlib.error as e:
            raise InvalidEvent("$", f"not gzip: {e}") from None
    elif content_encoding and content_encoding.lower() != "identity":
        raise InvalidEvent("$", f"unsupported Content-Encoding {content_encoding!r}")
    if len(body) > MAX_BODY_BYTES:
        raise InvalidEvent("$", f"event over {MAX_BODY_BYTES} bytes")
    try:
        event = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidEvent("$", f"nested deeper than {MAX_DEPTH}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidEvent("$", f"not JSON: {e}") from None
    check_event(event)
    return event


def check_event(event: object) -> str:
    """The event's kind (RunEvent, DatasetEvent, JobEvent) if it is valid, else InvalidEvent."""
    _check_shape(event)
    assert isinstance(event, dict)
    if "run" in event:
        kind = "RunEvent"
    elif "dataset" in event:
        kind = "DatasetEvent"
    elif "job" in event:
        kind = "JobEvent"
    else:
        raise InvalidEvent(
            "run", "required: a RunEvent has run and job, a DatasetEvent dataset, a JobEvent job"
        )
    error = best_match(_VALIDATORS[kind].iter_errors(event))
    if error is not None:
        raise InvalidEvent(_field(error), _reason(error))
    return kind


def _check_shape(event: object) -> None:
    """Depth, size, string length and key types, without recursion."""
    if not isinstance(event, dict):
        raise InvalidEvent("$", f"an event is a JSON object, not {_json_type(event)}")
    stack: list[tuple[object, str, int]] = [(event, "", 0)]
    values = 0
    while stack:
        value, path, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            raise InvalidEvent("$", f"more than {MAX_VALUES} values")
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise InvalidEvent(path or "$", f"string over {MAX_STRING} characters")
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise InvalidEvent(path or "$", f"nested deeper than {MAX_DEPTH}")
            if isinstance(value, list):
                stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
                continue
            for key, v in value.items():
                if not isinstance(key, str):
                    raise InvalidEvent(path or "$", f"key {key!r} is not a string")
                if len(key) > MAX_STRING:
                    raise InvalidEvent(path or "$", f"key over {MAX_STRING} characters")
                stack.append((v, f"{path}.{key}" if path else key, depth + 1))
        elif not (value is None or isinstance(value, bool | int | float)):
            raise InvalidEvent(path or "$", f"{type(value).__name__} is not a JSON value")


def _field(error: ValidationError) -> str:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        path += missing[:1]
    elif error.validator == "not":
        path.append("run")  # a DatasetEvent or JobEvent carrying a run
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


def _reason(error: ValidationError) -> str:
    message = error.message
    # The message repeats the offending value: keep a hostile value out of the 400 body.
    return message if len(message) <= 300 else message[:300] + "..."


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "that")


# -- onto the graph -------------------------------------------------------------------


def dataset_node(namespace: str, name: str) -> str:
    """The node of an OpenLineage dataset: the registry's own namespaces name versions and
    aliases (so the events the registry emits land on the nodes its facts made).

    >>> dataset_node("watchkeeper-models", "fraud:3")
    'version:fraud:3'
    >>> dataset_node("watchkeeper-aliases", "fraud@champion")
    'alias:fraud@champion'
    >>> dataset_node("postgres://db:5432", "shop.public.orders")
    'dataset:postgres://db:5432:shop.public.orders'
    """
    if namespace == MODELS_NAMESPACE and ":" in name:
        model, _, version = name.rpartition(":")
        return version_id(model, version)
    if namespace == ALIASES_NAMESPACE and "@" in name:
        model, _, alias = name.rpartition("@")
        return alias_id(model, alias)
    return dataset_id(namespace, name)


def apply_event(graph: LineageGraph, event: dict[str, Any]) -> dict[str, Any]:
    """Map a checked event onto ``graph``: inputs -> job -> outputs; the job keeps its last
    run (id, state, time). Edges are only added: a later run reading less removes none.

    The registry's own events (producer ``PRODUCER``) are left out: its facts are on the
    graph already, edge for edge, while its events share one job per action, which would
    join every dataset to every version.
    """
    if event.get("producer") == PRODUCER:
        return {"kind": "own", "job": None, "inputs": [], "outputs": []}
    if "dataset" in event and "job" not in event:
        d = event["dataset"]
        node = _dataset(graph, d)
        return {"kind": "DatasetEvent", "job": None, "inputs": [], "outputs": [node]}
    job = event["job"]
    jid = job_id(job["namespace"], job["name"])
    graph.add_node(jid, {"namespace": job["namespace"], "name": job["name"]})
    if "run" in event:
        _last_run(graph, jid, event)
    inputs = [_dataset(graph, d) for d in event.get("inputs") or ()]
    outputs = [_dataset(graph, d) for d in event.get("outputs") or ()]
    for node in inputs:
        graph.add_edge(node, jid)
    for node in outputs:
        graph.add_edge(jid, node)
    kind = "RunEvent" if "run" in event else "JobEvent"
    return {"kind": kind, "job": jid, "inputs": inputs, "outputs": outputs}


def _dataset(graph: LineageGraph, d: dict[str, Any]) -> str:
    node = dataset_node(d["namespace"], d["name"])
    if node.startswith("dataset:"):
        graph.add_node(node, {"namespace": d["namespace"], "name": d["name"]})
    else:
        graph.add_node(node)
    return node


def _last_run(graph: LineageGraph, jid: str, event: dict[str, Any]) -> None:
    when = _parse_time(event["eventTime"])
    when_ms = int(when.timestamp() * 1000) if when else 0
    # Events of a run can arrive out of order: an older one does not undo a newer state.
    if when_ms < graph.attrs(jid).get("last_event_time_ms", -1):
        return
    graph.set_attrs(
        jid,
        {
            "last_run_id": event["run"]["runId"],
            "state": event.get("eventType", "OTHER"),
            "last_event_time": event["eventTime"],
            "last_event_time_ms": when_ms,
        },
    )


def _parse_time(value: str) -> datetime | None:
    if len(value) < 10 or value[4:5] != "-":
        return None  # fromisoformat also takes "20231114" and the like, the spec does not
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- out: the registry's own events ---------------------------------------------------

Dataset = tuple[str, str] | tuple[str, str, dict[str, Any]]


def run_event(
    job: tuple[str, str],
    inputs: Iterable[Dataset],
    outputs: Iterable[Dataset],
    run_id: str,
    event_type: str,
    event_time: int | str,
    producer: str = PRODUCER,
    job_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A spec-valid RunEvent: ``job`` and each dataset as ``(namespace, name[, facets])``,
    ``event_time`` in epoch ms (or ISO text), ``run_id`` a UUID or any key (see run_uuid)."""
    namespace, name = job
    event: dict[str, Any] = {
        "eventType": event_type,
        "eventTime": _iso(event_time) if isinstance(event_time, int) else event_time,
        "run": {"runId": run_uuid(run_id)},
        "job": {"namespace": namespace, "name": name},
        "inputs": [_ol_dataset(d) for d in inputs],
        "outputs": [_ol_dataset(d) for d in outputs],
        "producer": producer,
        "schemaURL": f"{SPEC_URL}#/$defs/RunEvent",
    }
    if job_facets:
        event["job"]["facets"] = job_facets
    return event


def run_uuid(key: str) -> str:
    """``key`` if it is a UUID (canonical form), else a UUID derived from it, the same every
    time, so a retried action re-emits the same run.

    >>> run_uuid("0B5E9F2A1C1D4F558C2B6D2A2F7E0C11")
    '0b5e9f2a-1c1d-4f55-8c2b-6d2a2f7e0c11'
    >>> run_uuid("register:fraud:3") == run_uuid("register:fraud:3") != run_uuid("register:fraud:4")
    True
    """
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{PRODUCER}:{key}"))


def _ol_dataset(d: Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {"namespace": d[0], "name": d[1]}
    if len(d) > 2 and d[2]:
        out["facets"] = d[2]
    return out


def _iso(ms: int) -> str:
    stamp = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")
