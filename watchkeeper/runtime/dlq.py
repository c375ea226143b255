"""The dead-letter contract: the original bytes, and why they could not be processed.

The value and key are the original ones, byte for byte, and the original headers are
kept; these headers are added (values are UTF-8 strings, so kcat and Java read them):

==================== =============================================================
header               value
==================== =============================================================
dlq.topic            the topic the message was read from
dlq.partition        its partition
dlq.offset           its offset
dlq.error.class      the exception class: EventError, or the handler's exception
dlq.error.kind       for EventError its kind (unknown_fingerprint, truncated ...),
                     otherwise processing_error
dlq.error.message    the error, at most 1,000 characters
dlq.service          the service that gave up on it
dlq.timestamp_ms     when, in epoch milliseconds
==================== =============================================================

>>> headers = dead_letter_headers("counter", "wk.predictions", 2, 41,
...     ValueError("boom"), "processing_error", now_ms=1767225600000)
>>> dict(headers)["dlq.offset"], dict(headers)["dlq.error.class"]
(b'41', b'ValueError')
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..codec import EventError

MAX_MESSAGE = 1000
PREFIX = "dlq."


def error_kind(exc: BaseException) -> str:
    return exc.kind if isinstance(exc, EventError) else "processing_error"


def dead_letter_headers(
    service: str,
    topic: str,
    partition: int,
    offset: int,
    exc: BaseException,
    kind: str,
    original: Iterable[tuple[str, bytes]] | None = None,
    now_ms: int | None = None,
) -> list[tuple[str, bytes]]:
    message = str(exc)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    ours = [
        ("dlq.topic", topic),
        ("dlq.partition", str(partition)),
        ("dlq.offset", str(offset)),
        ("dlq.error.class", type(exc).__name__),
        ("dlq.error.kind", kind),
        ("dlq.error.message", message),
        ("dlq.service", service),
        ("dlq.timestamp_ms", str(now_ms if now_ms is not None else int(time.time() * 1000))),
    ]
    # A message that failed twice keeps the first failure's story only in our headers:
    # drop stale dlq.* ones so readers never see two different reasons.
    kept = [(k, v) for k, v in (original or ()) if not k.startswith(PREFIX)]
    return kept + [(k, v.encode("utf-8", "replace")) for k, v in ours]
