"""The one error type the codec raises."""

from __future__ import annotations

# Every way a message can be unusable, as the ``kind`` of an EventError. The kind is what
# the dead-letter topic records as the error class, so keep these stable.
KINDS = (
    "not_single_object",  # no C3 01 marker, or shorter than the 10-byte header
    "unknown_fingerprint",  # a schema this installation has never seen
    "unexpected_type",  # a valid event, but not the type this topic carries
    "truncated",  # the body ends before the schema says it should
    "corrupt",  # bytes that no writer of this schema could have produced
    "invalid",  # decodes, but breaks a field constraint (empty id, negative latency ...)
    "unknown_schema",  # encode asked for a schema name that is not registered
)


class EventError(ValueError):
    """A message that cannot be decoded or an event that breaks its contract.

    ``kind`` is one of :data:`KINDS`; the message names the schema and field when known.

    >>> err = EventError("truncated", "PredictionEvent v1: body ends early")
    >>> err.kind, str(err)
    ('truncated', 'truncated: PredictionEvent v1: body ends early')
    """

    def __init__(self, kind: str, detail: str) -> None:
        if kind not in KINDS:
            raise AssertionError(f"unknown EventError kind {kind!r}")
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
