"""A bad row as a dead letter: the ``dlq`` contract of ``watchkeeper.runtime.dlq`` (there is
no source topic: ``dlq.topic`` names the topic the row was meant for, ``dlq.partition`` and
``dlq.offset`` are ``-1``) plus where the row is in its file. The value is the row as the
file had it (before any transformation), as JSON; the key is ``<file sha256>:<row>``. A row
too large for a Kafka message (a hostile 2 MB cell) is cut: ``{"truncated_from_bytes": n,
"head": "<its first 64 KiB of JSON>"}`` — the file and row number say where the rest is.

>>> key, value, headers = dead_letter("wk.predictions", "/d/p.csv", "sha256:00", 7,
...     {"amount": "x"}, RowError("cast", "amount: cannot read 'x' as a number"), now_ms=1)
>>> key, value
(b'sha256:00:7', b'{"amount":"x"}')
>>> h = dict(headers); h["dlq.error.kind"], h["dlq.source.row"], h["dlq.source.file"]
(b'cast', b'7', b'/d/p.csv')
"""

from __future__ import annotations

from typing import Any

import orjson

from ..runtime.dlq import dead_letter_headers
from .errors import RowError

SERVICE = "ingest"
# Below Kafka's default message.max.bytes (about 1 MB), with room for the headers.
MAX_VALUE_BYTES = 900_000
HEAD_BYTES = 64 * 1024


def dead_letter(
    topic: str,
    path: str,
    digest: str,
    row: int,
    original: Any,
    error: RowError,
    now_ms: int | None = None,
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    headers = dead_letter_headers(SERVICE, topic, -1, -1, error, error.kind, now_ms=now_ms)
    headers += [("dlq.source.file", path.encode()), ("dlq.source.row", str(row).encode())]
    # Parquet gives datetimes, decimals and bytes: JSON has none, their text stands in.
    value = orjson.dumps(original, default=str, option=orjson.OPT_NON_STR_KEYS)
    if len(value) > MAX_VALUE_BYTES:
        head = value[:HEAD_BYTES].decode("utf-8", "ignore")
        value = orjson.dumps({"truncated_from_bytes": len(value), "head": head})
    return f"{digest}:{row}".encode(), value, headers
