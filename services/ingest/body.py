"""What a ``POST /v1/events`` carries, before any event is looked at: the content type,
the encoding, the size, the JSON and the batch's shape. Anything wrong here refuses the
whole request (``BadBody``: 400, 413 or 415 with the reason and, for JSON, the position).

Two forms are read:

* ``application/json``: ``{"topic": "predictions", "events": [{...}, ...]}``; ``topic`` is
  the default of every item, and an item's own ``"topic"`` wins (one batch may mix topics);
* ``application/x-ndjson``: one event per line; the default topic is the ``topic`` query
  parameter, and again a line's own ``"topic"`` wins.

``Content-Encoding: gzip`` is decoded with the same cap on what comes out (no zip bombs).

>>> parse(b'{"topic": "feedback", "events": [{"model": "fraud"}, 7]}', "application/json")
Batch(topic='feedback', events=[{'model': 'fraud'}, 7])
>>> parse(b'{"model": "a"}\\n\\n{"model": "b", "topic": "telemetry"}\\n',
...       "application/x-ndjson", query_topic="predictions").events
[{'model': 'a'}, {'model': 'b', 'topic': 'telemetry'}]
>>> parse(b'{"events": [{"score": NaN}]}', "application/json")
Traceback (most recent call last):
...
services.ingest.body.BadBody: 400: the body is not JSON: NaN is not a JSON number \
(line 1, column 1)
>>> parse(b'{"events": [{"model": "a"}', "application/json").events
Traceback (most recent call last):
...
services.ingest.body.BadBody: 400: the body is not JSON: Expecting ',' delimiter \
(line 1, column 27)
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from typing import Any

from .scopes import TOPICS

JSON = "application/json"
NDJSON = "application/x-ndjson"
TYPES = (JSON, NDJSON, "application/jsonl")  # jsonl: what some clients call NDJSON
KEYS = {"topic", "events"}


class BadBody(ValueError):
    """The request as a whole is refused: ``status`` (400, 413, 415) and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass
class Batch:
    topic: str | None  # the default topic of the items (None: each item names its own)
    events: list[Any]  # as sent: each is checked on its own (``items.check``)


def media_type(header: str) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``."""
    return header.split(";", 1)[0].strip().lower()


def decode(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """The body as sent before ``Content-Encoding`` (identity or gzip), at most
    ``max_bytes`` of it.

    >>> import gzip
    >>> decode(gzip.compress(b"{}"), "gzip", 100)
    b'{}'
    >>> decode(gzip.compress(b"0" * 1000), "gzip", 100)
    Traceback (most recent call last):
    ...
    services.ingest.body.BadBody: 413: the body decompresses to more than 100 bytes
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise BadBody(415, f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing only
    try:
        out = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise BadBody(400, f"the body is not valid gzip: {exc}") from None
    if len(out) > max_bytes:
        raise BadBody(413, f"the body decompresses to more than {max_bytes} bytes")
    if not inflater.eof:
        raise BadBody(400, "the gzip body is truncated")
    return out


def parse(raw: bytes, content_type: str, query_topic: str | None = None) -> Batch:
    """The batch in ``raw`` (already decoded), or :class:`BadBody`."""
    kind = media_type(content_type)
    if kind not in TYPES:
        raise BadBody(415, f"Content-Type must be {JSON} or {NDJSON}, not {kind or 'missing'!r}")
    if query_topic is not None:
        _known(query_topic, "the topic parameter")
    if kind == JSON:
        if query_topic is not None:
            raise BadBody(400, "the topic parameter is for NDJSON; put it in the JSON body")
        return _batch(_json(_text(raw)))
    lines = _text(raw).split("\n")
    events = [_json(line, number) for number, line in enumerate(lines, 1) if line.strip()]
    return Batch(query_topic, events)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(400, f"the body is not UTF-8 (byte {exc.start})") from None


def _json(text: str, line: int | None = None) -> Any:
    where = f"line {line}: " if line is not None else ""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if line is not None else f"line {exc.lineno}, column {exc.colno}"
        raise BadBody(400, f"{where}the body is not JSON: {exc.msg} ({at})") from None
    except RecursionError:
        raise BadBody(400, f"{where}the body is nested too deeply") from None
    except _NotFinite as exc:
        raise BadBody(
            400,
            f"{where}the body is not JSON: {exc.args[0]} (line 1, column 1)"
            if line is None
            else f"{where}{exc.args[0]}",
        ) from None
    except ValueError as exc:  # an integer of more than 4300 digits, say
        raise BadBody(400, f"{where}the body is not JSON: {exc}") from None


class _NotFinite(ValueError):
    pass


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser takes them unless told not to.
    raise _NotFinite(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: valid JSON, but no double holds it
        raise _NotFinite(f"{text[:40]} is too large for a double")
    return value


def _batch(doc: Any) -> Batch:
    if not isinstance(doc, dict):
        raise BadBody(400, f'the body must be an object {{"events": [...]}}, not {_kind(doc)}')
    unknown = sorted(set(doc) - KEYS)
    if unknown:
        raise BadBody(400, f"unknown key {unknown[0]!r} in the body; expected topic, events")
    if "events" not in doc:
        raise BadBody(400, "the body has no events list")
    events = doc["events"]
    if not isinstance(events, list):
        raise BadBody(400, f"events must be a list, not {_kind(events)}")
    topic = doc.get("topic")
    if topic is not None:
        _known(topic, "topic")
    return Batch(topic, events)


def _known(topic: Any, what: str) -> str:
    if not isinstance(topic, str) or topic not in TOPICS:
        raise BadBody(400, f"{what} must be one of {', '.join(TOPICS)}, not {str(topic)[:60]!r}")
    return topic


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )
