"""The control plane's events on Kafka: the history topic (every event, kept forever, the
source of truth a restart replays) and the state topic (compacted: each entity's newest
state under its id, for services and tools that want the present without the past).

Both are written in one transaction per batch, with the input offsets of any topic the
batch consumed (the ``lineage`` topic), so a batch is all there or not at all; readers
use ``read_committed``. The transactional id is the service's own: a second instance
fences the first (it ends, exit 1) instead of both writing. Every Kafka call is bounded
by the runtime's watchdog, so a stuck broker call ends the process (exit 75) for its
supervisor to restart rather than leaving the API accepting writes it never makes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from confluent_kafka import Producer

from ..runtime import compacted
from ..runtime.clients import call_timeout_s, transactional_producer
from ..runtime.transaction import Aborted, Transactions
from ..runtime.watchdog import Watchdog
from ..settings import ServiceSettings
from .events import Entity, Event, EventError

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """The batch was not written (aborted, or Kafka away): nothing of it is committed."""


class Journal:
    def __init__(
        self, settings: ServiceSettings, history: str, state: str, watchdog: Watchdog
    ) -> None:
        self.settings = settings
        self.history_topic = settings.topic(history)
        self.state_topic = settings.topic(state)
        self.watchdog = watchdog
        self.skipped = 0
        self._transactions: Transactions | None = None

    def replay(self, timeout_s: float = 300.0) -> Iterator[Event]:
        """Every committed event, oldest first. A record that is not an event is skipped
        with an error logged (it was not written by us), never fatal."""
        for record in compacted.read(self.settings.kafka, self.history_topic, timeout_s):
            if record.value is None:
                continue
            try:
                yield Event.from_json(record.value)
            except EventError as exc:
                self.skipped += 1
                log.error(
                    "skipping a record of the history topic that is not an event",
                    extra={"topic": self.history_topic, "offset": record.offset, "error": str(exc)},
                )

    def open(self, init_timeout_s: float = 60.0) -> None:
        config = transactional_producer(self.settings, "journal")
        timeout = call_timeout_s()
        self._transactions = Transactions(
            Producer(config), self.watchdog, self.settings.name, timeout, 5.0, 4 * timeout
        )
        self._transactions.begin(init_timeout_s)

    def append(
        self,
        events: Iterable[tuple[Event, Entity]],
        outbox: Iterable[tuple[str, bytes | None, bytes]] = (),
        offsets: list[Any] | None = None,
        group_metadata: Any = None,
    ) -> None:
        """Write the batch and commit; raises :class:`Unavailable` when it was aborted (not
        written), ``KafkaException`` when fenced or broken (the caller ends the process)."""
        tx = self._transactions
        assert tx is not None, "open() first"
        for event, entity in events:
            key = event.entity_id.encode()
            tx.produce(self.history_topic, event.to_json(), key)
            tx.produce(self.state_topic, entity.to_json(), key)
        for topic, key_, value in outbox:  # what the batch tells other systems, with it
            tx.produce(self.settings.topic(topic), value, key_)
        try:
            tx.commit(offsets or [], group_metadata)
        except Aborted as exc:
            raise Unavailable(f"the write was aborted: {exc}") from exc
        # Any other KafkaException leaves the transaction in a state we cannot know (or we
        # were fenced): it propagates and the process ends; a restart replays what landed.

    def close(self) -> None:
        if self._transactions is not None:
            self._transactions.flush(5.0)
