"""Metrics every service exports under the same names, labelled by service and topic."""

from __future__ import annotations

from prometheus_client import Counter

CONSUMED = Counter("wk_messages_consumed_total", "Messages read from Kafka.", ["service", "topic"])
PROCESSED = Counter(
    "wk_events_processed_total", "Events decoded and handled.", ["service", "topic"]
)
DEAD_LETTERS = Counter(
    "wk_dead_letters_total",
    "Messages sent to the dead-letter topic instead of being processed.",
    ["service", "topic", "reason"],
)
REDELIVERED = Counter(
    "wk_messages_redelivered_total",
    "Messages this process had already handled, read again after a broker or group "
    "hiccup rewound the consumer, and skipped.",
    ["service", "topic"],
)
