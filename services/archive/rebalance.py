"""What an archive instance does when partitions come and go (the rebalance callbacks,
run inside ``consume()``; part of :class:`.app.Archiver`).

Assigned: the group's committed offsets are asked (again while the coordinator loads),
each partition is recovered (:mod:`.recovery`: the parts of a flush that never committed
are deleted) and positioned where the store ends; one whose recovery fails (the store
refuses) is assigned paused and recovered by the write retries. Revoked or lost: its
buffer is dropped; the next owner reads those records again from the committed offset.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from watchkeeper.runtime import clients
from watchkeeper.runtime.metrics import forget_lag

from . import metrics
from .buffer import TopicPartition as Key
from .recovery import resume

if TYPE_CHECKING:
    from collections.abc import Callable

    from watchkeeper.tiering.store import Store

    from .buffer import Buffers
    from .config import ArchiveConfig
    from .failing import Failing

log = logging.getLogger("services.archive.app")


class Rebalancing:
    """The rebalance callbacks; the state they share is the archiver's."""

    config: ArchiveConfig
    store: Store
    monotonic: Callable[[], float]
    consumer: Consumer
    buffers: Buffers
    failing: Failing
    committed: dict[Key, int]
    assigned: set[Key]
    unrecovered: set[Key]

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        committed = self._committed(partitions)
        paused = []
        for tp in committed:
            key = (tp.topic, tp.partition)
            self.assigned.add(key)
            known = tp.offset if tp.offset >= 0 else None
            try:
                self._recover(key, known, tp)
            except Exception as exc:  # the store is failing: consume nothing until it works
                self.unrecovered.add(key)
                self._store_known(key, known)
                tp.offset = known if known is not None else OFFSET_BEGINNING
                self._failed("recover", exc, pause=False)  # not assigned yet: paused below
            if self.failing.since_ms is not None or key in self.unrecovered:
                paused.append(tp)
        consumer.assign(committed)
        metrics.ASSIGNED.set(len(self.assigned))
        if paused:
            consumer.pause(paused)
        log.info("assigned", extra={"partitions": sorted(f"{t}:{p}" for t, p in self.assigned)})

    def _committed(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """The group's committed offsets, asked again while the coordinator loads or moves
        (a fresh broker answers NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS at first)."""
        deadline = self.monotonic() + clients.call_timeout_s()
        while True:
            try:
                return self.consumer.committed(partitions, timeout=clients.call_timeout_s())
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                retriable = error is not None and not error.fatal()
                if not retriable or self.monotonic() > deadline:
                    raise
                log.info("committed offsets not available yet", extra={"error": str(exc)})
                time.sleep(0.5)  # the coordinator needs time; nothing else to wait on here

    def _store_known(self, key: Key, committed: int | None) -> None:
        self.committed[key] = committed if committed is not None else 0

    def _recover(self, key: Key, known: int | None, tp: TopicPartition) -> None:
        topic, partition = key
        log_start = 0
        if known is None:  # only then does the log's start matter
            log_start = self.consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=clients.call_timeout_s()
            )[0]
        found = resume(self.store, self.config.logical(topic), partition, known, log_start)
        if found.deleted:
            metrics.RECOVERED.inc(len(found.deleted))
            log.info("uncommitted parts deleted", extra={"parts": found.deleted})
        tp.offset = found.offset
        self._store_known(key, found.offset)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            dropped = self.buffers.drop(key)
            self.assigned.discard(key)
            self.unrecovered.discard(key)
            self.committed.pop(key, None)
            with contextlib.suppress(KeyError):  # no maintenance ran for it yet
                metrics.LAG.remove(self.config.logical(tp.topic), str(tp.partition))
            forget_lag(self.config.service.group, [(tp.topic, tp.partition)])
            if dropped:
                log.info(
                    "revoked: buffer dropped", extra={"partition": f"{key}", "records": dropped}
                )
        metrics.BUFFERED.set(len(self.buffers))
        metrics.ASSIGNED.set(len(self.assigned))
