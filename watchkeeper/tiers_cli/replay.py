"""``watchkeeper replay``: the selected rows of the cold and archive tiers back into a
topic, exactly once across crashes and re-runs.

Each batch of records is one Kafka transaction that also carries the replay's checkpoint
(:mod:`.checkpoint`) on the compacted ``replay-state`` topic. The transactional id is the
replay's key, so a re-run first fences any earlier process with that id (Kafka aborts its
open transaction: its records are never seen by a read-committed consumer), then reads the
committed checkpoint and goes on after it. A finished replay re-run finds ``done`` and sends
nothing unless asked ``again``.

Records keep their key and Kafka timestamp, and their source partition when the target has
it (else the producer partitions by key); each carries a ``wk-replay`` header with the
replay's key, so a consumer can tell a replayed record from a live one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..codec import Codec
from ..runtime import compacted
from ..runtime.checkpointed import Aborted, CheckpointedProducer
from ..settings import KafkaSettings
from ..tiering.columns import Columns
from ..tiering.layout import Part
from ..tiering.store import Store
from .checkpoint import Checkpoint, ReplayId
from .selection import BadInput, partition_tables

STATE_TOPIC = "replay-state"
HEADER = "wk-replay"
# Fault injection for the crash tests: after this many committed transactions, open one
# more, send its records without committing, say so on stderr and wait to be killed.
HOLD_ENV = "WK_REPLAY_HOLD_AFTER"


@dataclass
class Summary:
    """What a run did."""

    key: str
    target: str
    sent: int = 0
    per_partition: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    already_done: bool = False
    resumed_from: dict[int, int] = field(default_factory=dict)
    run: int = 0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Request:
    """One replay: what to read (``parts`` already chosen and checked) and where to."""

    rid: ReplayId
    store: Store
    parts: list[Part]
    record_type: str
    state_topic: str
    batch: int = 5_000
    again: bool = False


class Replayer:
    """The transactional producer of one replay."""

    def __init__(self, settings: KafkaSettings, request: Request, timeout_s: float = 60.0):
        self.settings = settings
        self.request = request
        self.timeout_s = timeout_s
        self.codec = Codec()
        self.columns = Columns.of(self.codec, request.record_type)
        self.producer = CheckpointedProducer(
            settings, request.rid.transactional_id(), timeout_s, transaction_timeout_ms=120_000
        )

    def run(self, progress: Callable[[int], None] = lambda n: None) -> Summary:
        request = self.request
        target = request.rid.target
        # Fence first: an earlier process's open transaction is aborted before we read the
        # checkpoint (a read-committed reader would otherwise wait for it).
        self.producer.fence()
        point = self._checkpoint()
        summary = Summary(request.rid.key(), target, run=point.run)
        if point.done and not request.again:
            summary.already_done = True
            summary.sent = point.sent
            return summary
        if point.done:
            point = point.again()
            summary.run = point.run
        if not point.replay:
            point = replace(point, replay=request.rid.describe())
        summary.resumed_from = dict(point.positions)
        partitions = self._target_partitions(target)
        hold = int(os.environ.get(HOLD_ENV, "0") or 0)
        committed = 0
        started = time.monotonic()
        for partition, table in partition_tables(
            request.store, request.parts, self.columns, request.rid.since_ms,
            request.rid.until_ms, request.rid.where, after=point.positions,
        ):  # fmt: skip
            destination = partition if partition < partitions else None
            for start in range(0, table.num_rows, request.batch):
                chunk = table.slice(start, request.batch)
                point = self._send(chunk, point, destination, summary)
                committed += 1
                progress(chunk.num_rows)
                if hold and committed == hold:
                    self._hold(table.slice(start + request.batch, request.batch), destination)
        self._transaction([], point.finished())
        summary.sent = point.sent
        summary.seconds = time.monotonic() - started
        return summary

    # -- Kafka -----------------------------------------------------------------------------

    def _checkpoint(self) -> Checkpoint:
        key = self.request.rid.key().encode()
        found = Checkpoint()
        for record in compacted.read(self.settings, self.request.state_topic, self.timeout_s):
            if record.key == key:
                found = Checkpoint() if record.value is None else Checkpoint.decode(record.value)
        return found

    def _target_partitions(self, target: str) -> int:
        listed = self.producer.producer.list_topics(target, timeout=self.timeout_s)
        metadata = listed.topics.get(target)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise BadInput(f"--into {target!r}: no such topic on {self.settings.bootstrap_servers}")
        return len(metadata.partitions)

    def _records(self, chunk) -> list[tuple[Any, ...]]:
        rtype = self.request.record_type
        return [
            (self.codec.encode(rtype, event), coords.key, coords.timestamp_ms, coords.offset)
            for coords, event in self.columns.rows(chunk)
        ]

    def _send(self, chunk, point: Checkpoint, destination: int | None, summary: Summary):
        records = self._records(chunk)
        partition = int(chunk.column("_partition")[0].as_py())
        advanced = point.advanced({partition: records[-1][3]}, len(records))
        self._transaction(records, advanced, destination)
        summary.per_partition[partition] = summary.per_partition.get(partition, 0) + len(records)
        return advanced

    def _transaction(
        self, records: list[tuple[Any, ...]], point: Checkpoint, destination: int | None = None
    ) -> None:
        """Send ``records`` and ``point`` in one transaction; an aborted one is redone
        whole (nothing of an aborted transaction is ever read); a fatal one (fenced) raised."""
        for attempt in range(5):
            self._produce_all(records, destination)
            self.producer.produce(self.request.state_topic, point.encode(),
                                  self.request.rid.key().encode())  # fmt: skip
            try:
                self.producer.commit()
                return
            except Aborted:
                if attempt == 4:
                    raise

    def _produce_all(self, records: list[tuple[Any, ...]], destination: int | None) -> None:
        headers = [(HEADER, self.request.rid.key().encode())]
        target = self.request.rid.target
        for value, key, timestamp, _ in records:
            extra: dict[str, Any] = {"timestamp": timestamp, "headers": headers}
            if destination is not None:
                extra["partition"] = destination
            self.producer.produce(target, value, key, **extra)

    def _hold(self, chunk, destination: int | None) -> None:
        if chunk.num_rows:
            self._produce_all(self._records(chunk), destination)
        left = self.producer.flush()
        print(f"replay: {chunk.num_rows} records sent, {left} undelivered", file=sys.stderr)
        print("replay: holding an open transaction (fault injection)", file=sys.stderr,
              flush=True)  # fmt: skip
        threading.Event().wait()
