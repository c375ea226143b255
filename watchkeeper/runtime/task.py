"""What a batch-engine task is: plain Python on one input partition, no Kafka.

The engine (``batch.BatchService``) feeds a task decoded events and wall-clock ticks, and
takes from it output records and changelog records, which it commits together with the
input offsets in one Kafka transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Output:
    """A record for an output topic (logical name, without prefix)."""

    topic: str
    key: bytes
    value: bytes | None


def key_text(key: tuple[Any, ...]) -> str:
    """A tuple key as compact JSON, for the keys of a task's changelog records (a restore
    reads it back with ``json.loads``).

    >>> key_text(("fraud", "3", None))
    '["fraud","3",null]'
    """
    return json.dumps(list(key), separators=(",", ":"))


class Task(Protocol):
    """The domain side of one input partition; plain Python, no Kafka."""

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record (``None`` deletes the key)."""

    def process(self, topic: str, record: dict[str, Any]) -> None:
        """Handle one decoded event of ``topic`` (logical name)."""

    def tick(self, now_ms: int) -> None:
        """Wall-clock time passed: close what is due."""

    def pending_output(self) -> bool:
        """True when outputs wait: the engine then commits without waiting for its interval."""

    def drain(self) -> tuple[list[Output], list[tuple[bytes, bytes | None]]]:
        """Outputs and changelog records accumulated since the last drain."""
