"""What a task is: the domain side of one input partition, plain Python, no Kafka.

An engine (the batch engine for the hot prediction streams, Faust for light ones) feeds a
task its changelog at start (``restore`` for every record, then ``restored`` once), then
decoded events and wall-clock ticks, and takes from it output records and changelog
records, which it commits together with the input offsets.

>>> class Echo(BaseTask):
...     def process(self, topic, record):
...         self.outputs.append(Output("echo", b"k", record["v"]))
>>> task = Echo(); task.restored(); task.process("in", {"v": b"x"})
>>> task.pending_output(), task.drain()
(True, ([Output(topic='echo', key=b'k', value=b'x')], []))
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


Change = tuple[bytes, bytes | None]


class Task(Protocol):
    """The domain side of one input partition; plain Python, no Kafka."""

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record (``None`` deletes the key)."""

    def restored(self) -> None:
        """Every changelog record was applied: build what depends on all of them. Called
        once, before the first ``process`` or ``tick`` (also when there was nothing)."""

    def process(self, topic: str, record: dict[str, Any]) -> None:
        """Handle one decoded event of ``topic`` (logical name)."""

    def tick(self, now_ms: int) -> None:
        """Wall-clock time passed: close what is due."""

    def pending_output(self) -> bool:
        """True when outputs wait: the engine then commits without waiting for its interval."""

    def drain(self) -> tuple[list[Output], list[Change]]:
        """Outputs and changelog records accumulated since the last drain."""


class BaseTask:
    """A thin base: an output list, a changelog buffer (the newest value per key wins)
    and the hooks a task without state or timers does not need to write."""

    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self.changes: dict[bytes, bytes | None] = {}

    def restore(self, key: bytes, value: bytes | None) -> None:
        raise ValueError(f"{type(self).__name__} keeps no state, got changelog key {key!r}")

    def restored(self) -> None:
        pass

    def process(self, topic: str, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def tick(self, now_ms: int) -> None:
        pass

    def pending_output(self) -> bool:
        return bool(self.outputs)

    def drain(self) -> tuple[list[Output], list[Change]]:
        outputs, self.outputs = self.outputs, []
        changes, self.changes = list(self.changes.items()), {}
        return outputs, changes
