"""Who may write to which topic: one scope per topic, and ``ingest`` for all of them.

>>> from watchkeeper.auth import TokenTable
>>> table = TokenTable.parse("labels ingest:feedback 0123456789abcdef0123", scopes=SCOPES)
>>> token = table.authenticate("0123456789abcdef0123")
>>> missing(token, {"feedback"}), missing(token, {"feedback", "predictions"})
([], ['ingest:predictions'])
>>> everything = TokenTable.parse("app ingest 0123456789abcdef0123", scopes=SCOPES)
>>> missing(everything.authenticate("0123456789abcdef0123"), set(TOPICS))
[]
"""

from __future__ import annotations

from collections.abc import Iterable

from watchkeeper.auth import Scopes, Token

# The topics a caller may write, and the schema each carries.
TOPICS = {
    "predictions": "PredictionEvent",
    "feedback": "FeedbackEvent",
    "telemetry": "TelemetryEvent",
}
PER_TOPIC = {topic: f"ingest:{topic}" for topic in TOPICS}
SCOPES = Scopes.of(ingest=tuple(PER_TOPIC.values()), **{s: () for s in PER_TOPIC.values()})


def scope_for(topic: str) -> str:
    return PER_TOPIC[topic]


def missing(token: Token, topics: Iterable[str]) -> list[str]:
    """The scopes ``token`` lacks to write every one of ``topics`` (sorted)."""
    return sorted({PER_TOPIC[t] for t in topics if not token.allows(PER_TOPIC[t])})
