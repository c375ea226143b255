"""Every gate's latest state, read from the compacted ``gates`` topic.

The view reads the topic (not the tasks' memory), so every instance answers for every
gate, whichever instance owns the model's partition, and a restarted instance knows
the gates before its tasks have seen an event. It reads committed transactions only:
a gate is never reported from work that was rolled back. It runs beside the tasks
(``kit.Beside``); ``gateroutes`` answers HTTP from it.
"""

from __future__ import annotations

import logging
from typing import Any

from watchkeeper.codec import Codec, EventError
from watchkeeper.runtime import compacted
from watchkeeper.settings import KafkaSettings

log = logging.getLogger(__name__)


class GateView:
    def __init__(self, kafka: KafkaSettings, topic: str, codec: Codec | None = None) -> None:
        self.kafka = kafka
        self.topic = topic
        self.codec = codec or Codec()
        self.gates: dict[str, dict[str, Any]] = {}
        self._table = compacted.Table(kafka, topic, self._apply, name="wk-gate-view")
        self.ready = self._table.ready

    def start(self, timeout: float = 60.0) -> GateView:
        if not self._table.start(timeout):
            log.warning("gate view not caught up yet", extra={"topic": self.topic})
        return self

    def stop(self) -> None:
        self._table.stop()

    def get(self, name: str) -> dict[str, Any] | None:
        return self.gates.get(name)

    def problem(self) -> str | None:
        """For /healthz: None when the view is current."""
        return self._table.problem()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            if key is not None:
                self.gates.pop(key.decode(errors="replace"), None)
            return
        try:
            record = self.codec.decode_as("GateState", value)
        except EventError as exc:
            log.warning("undecodable gate record skipped", extra={"error": str(exc)})
            return
        self.gates[record["gate"]] = record
