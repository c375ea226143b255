"""A compacted topic read whole and followed: the newest value of every key, on a thread.

Services keep some shared state as a table every instance must see in full, whichever
partitions it owns: drift's references, quality's gates. A reader assigns every partition
(no consumer group, nothing committed), reads from the beginning, reports ``ready`` once it
reached the end of each, then keeps following. Only committed transactions are read.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

from .settings import KafkaSettings

log = logging.getLogger(__name__)

Apply = Callable[[bytes | None, bytes | None], None]


class TopicTable:
    """Calls ``apply(key, value)`` for every record of ``topic``, oldest first
    (``value`` is None for a tombstone), on a daemon thread."""

    def __init__(self, settings: KafkaSettings, topic: str, apply: Apply, name: str) -> None:
        self.settings = settings
        self.topic = topic
        self.apply = apply
        self.ready = threading.Event()
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self, timeout: float | None = None) -> bool:
        """Start following; with ``timeout``, wait that long to be caught up (True if so)."""
        self._thread.start()
        return self.ready.wait(timeout) if timeout is not None else False

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def problem(self) -> str | None:
        """For /healthz: None when the table is current."""
        if self.error:
            return f"{self.topic}: {self.error}"
        if not self.ready.is_set():
            return f"still reading {self.topic}"
        return None

    def _run(self) -> None:
        # Here, not at the top: the stores built on a table are imported by Kafka-free
        # domain code (and --help), which must not load the client.
        from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

        consumer = Consumer(
            self.settings.confluent(
                **{
                    "group.id": f"wk-table-{uuid.uuid4().hex}",  # never commits: reads everything
                    "enable.auto.commit": False,
                    "isolation.level": "read_committed",
                    "enable.partition.eof": True,
                }
            )
        )
        try:
            metadata = consumer.list_topics(self.topic, timeout=30).topics[self.topic]
            partitions = sorted(metadata.partitions)
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            at_end: set[int] = set()
            while not self._stop.is_set():
                message = consumer.poll(0.2)
                if message is None:
                    continue
                if message.error():
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        at_end.add(message.partition())
                        if len(at_end) == len(partitions):
                            self.ready.set()
                        continue
                    log.warning(
                        "table read error",
                        extra={"topic": self.topic, "error": str(message.error())},
                    )
                    continue
                self.apply(message.key(), message.value())
        except Exception as exc:  # the health check reports it; the service keeps running
            self.error = str(exc)
            log.exception("table reader stopped", extra={"topic": self.topic})
        finally:
            consumer.close()
