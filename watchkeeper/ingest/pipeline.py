"""One file into one topic, exactly once: the only module of ``watchkeeper.ingest`` that
talks to Kafka.

The transactional id is derived from the topic prefix, the file's content hash and the
target, so a restarted ingest of the same file fences the one it replaces (its open
transaction is aborted) before it reads its checkpoint. Every ``batch_rows`` rows, one
transaction commits the batch's events, its dead letters and the checkpoint that counts
them; the last one also carries the OpenLineage events. A crash loses the open transaction
only, and the checkpoint says where to go on from.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..codec import Codec
from ..settings import KafkaSettings
from ..topics import full_name
from . import readers
from .checkpoint import DONE, FAILED, RUNNING, Checkpoint
from .contract import RowContract
from .deadletters import dead_letter
from .errors import InputError, RowError
from .gate import Gate
from .lineage import Chain
from .mapping import EventMapping
from .summary import Summary
from .transform import Transform

log = logging.getLogger(__name__)
# Kafka's default message.max.bytes is about 1 MB; an event near it is refused as a bad
# row here rather than failing its whole transaction at the broker.
MAX_EVENT_BYTES = 900_000
STATE_TOPIC = "ingest-state"


class GateBlocked(Exception):
    """The gate is blocked (without ``--wait``): stopped after the last commit."""


class KafkaTrouble(Exception):
    """Kafka refused a transaction; the last committed checkpoint stands."""


@dataclass
class Plan:
    """Everything loaded and checked before Kafka is asked anything."""

    scanned: readers.Scanned
    mapping: EventMapping
    transform: Transform | None
    contract: RowContract | None


@dataclass
class Options:
    batch_rows: int = 5000
    again: bool = False
    progress: bool = True
    call_timeout_s: float = 30.0
    # Longer than transaction.timeout.ms: an ingest of another file killed with its
    # transaction open on ingest-state holds read-committed readers until it times out.
    state_timeout_s: float = 120.0
    gate: Gate | None = None


def plan(
    path: str,
    mapping: EventMapping,
    transform: Transform | None,
    contract: RowContract | None,
) -> Plan:
    """Scan the file and check that every column the steps and the mapping read is there."""
    scanned = readers.scan(path, mapping.format, mapping.csv)
    exact = scanned.format != "jsonl"
    columns = set(scanned.columns)
    if transform is not None:
        transform.check_columns(columns, exact)
        after = transform.columns_after(columns)
    else:
        after = columns
    if after is not None and (scanned.rows > 0 or exact):
        needed = {c: where for c, where in mapping.columns().items() if c not in after}
        if needed:
            name, (source, line) = next(iter(needed.items()))
            have = ", ".join(sorted(after)[:20]) or "none"
            raise InputError(
                source,
                line,
                f"column {name!r} is not in {scanned.path.name} "
                f"(after the transformations it has: {have})",
            )
    return Plan(scanned, mapping, transform, contract)


class Ingest:
    def __init__(
        self,
        settings: KafkaSettings,
        prefix: str,
        plan: Plan,
        options: Options,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.plan, self.options, self.clock = settings, plan, options, clock
        self.topic = full_name(plan.mapping.target, prefix)
        self.dlq_topic = full_name("dlq", prefix)
        self.state_topic = full_name(STATE_TOPIC, prefix)
        self.lineage_topic = full_name("lineage", prefix)
        digest = plan.scanned.digest
        self.transactional_id = f"wk-ingest:{prefix}:{digest[7:39]}:{plan.mapping.target}"
        self.codec = Codec()
        self.producer: Any = None
        self.committed: Checkpoint | None = None  # as the last commit left it

    # -- state ----------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _read_checkpoint(self) -> Checkpoint | None:
        from ..runtime import compacted

        key = Checkpoint.key_of(self.plan.scanned.digest, self.plan.mapping.target)
        found = None
        for record in compacted.read(self.settings, self.state_topic, self.options.state_timeout_s):
            if record.key == key:
                found = None if record.value is None else Checkpoint.from_json(record.value)
        return found

    def _connect(self) -> None:
        from ..runtime.checkpointed import CheckpointedProducer

        self.producer = CheckpointedProducer(
            self.settings,
            self.transactional_id,
            self.options.call_timeout_s,
            **{"message.max.bytes": 1_000_000},
        )
        # Fences an earlier instance with this id (killed mid-file) and aborts its open
        # transaction, so the checkpoint read next is the last committed one.
        self.producer.fence()

    # -- producing ------------------------------------------------------------------------

    def _produce(self, topic: str, value: bytes, key: bytes, headers: list | None = None) -> None:
        self.producer.produce(topic, value, key, headers=headers)

    def _commit(self, checkpoint: Checkpoint, extra: list[dict[str, Any]] = ()) -> None:
        from confluent_kafka import KafkaException

        from ..runtime.checkpointed import Aborted, Undelivered

        for event in extra:
            self._produce(
                self.lineage_topic,
                orjson.dumps(event),
                f"{event['job']['namespace']}:{event['job']['name']}".encode(),
            )
        value = checkpoint.to_json()
        self._produce(self.state_topic, value, checkpoint.key())
        try:
            self.producer.commit()
        except (Aborted, Undelivered) as exc:
            raise KafkaTrouble(str(exc)) from exc
        except KafkaException as exc:
            raise KafkaTrouble(str(exc.args[0])) from exc
        self.committed = Checkpoint.from_json(value)

    def _abort(self) -> None:
        self.producer.abort()

    # -- the run --------------------------------------------------------------------------

    def run(self) -> Summary:
        """Ingest the file; raises InputError (a file broken past its scan), GateBlocked or
        KafkaTrouble after committing what it could."""
        started = time.monotonic()
        scanned, target = self.plan.scanned, self.plan.mapping.target
        self._connect()
        checkpoint = self._read_checkpoint()
        if checkpoint is not None and checkpoint.status == DONE:
            if not self.options.again:
                return Summary.of(
                    checkpoint,
                    self.topic,
                    0,
                    time.monotonic() - started,
                    note="already ingested",
                    status=DONE,
                )
            checkpoint = Checkpoint.new(
                scanned.digest, target, str(scanned.path), self._now_ms(), checkpoint.attempt + 1
            )
        elif checkpoint is None:
            checkpoint = Checkpoint.new(scanned.digest, target, str(scanned.path), self._now_ms())
        checkpoint.status, checkpoint.reason = RUNNING, ""
        self.committed = Checkpoint.from_json(checkpoint.to_json())
        resumed_from = checkpoint.position
        self._check_gate()
        done = self._rows(checkpoint)
        checkpoint.status, checkpoint.finished_ms = DONE, self._now_ms()
        self._commit(checkpoint, self._lineage(checkpoint, "COMPLETE"))
        self.producer.flush()
        return Summary.of(checkpoint, self.topic, done, time.monotonic() - started, resumed_from)

    def _check_gate(self) -> None:
        if self.options.gate is not None:
            why = self.options.gate.check()
            if why is not None:
                raise GateBlocked(why)

    def _lineage(self, checkpoint: Checkpoint, outcome: str) -> list[dict[str, Any]]:
        transform = self.plan.transform
        chain = Chain(
            transform.source if transform else self.plan.scanned.path.stem,
            [s.name for s in transform.steps] if transform else [],
            str(self.plan.scanned.path.resolve()),
            self.settings.bootstrap_servers.split(",")[0],
            self.topic,
            checkpoint.digest,
            checkpoint.target,
            checkpoint.attempt,
        )
        ended = checkpoint.finished_ms or self._now_ms()
        return chain.events(outcome, checkpoint.started_ms, ended)

    def _rows(self, checkpoint: Checkpoint) -> int:
        """Send the rows after the checkpoint; return how many this run accounted for."""
        plan, skip = self.plan, checkpoint.position
        transform, mapping, contract = plan.transform, plan.mapping, plan.contract
        # Dedup keys live in memory: rows already committed are run through the steps
        # again (nothing sent) so that a resumed file drops the same duplicates.
        replay = transform is not None and any(s.kind in ("dedup", "hook") for s in transform.steps)
        path, digest = str(plan.scanned.path.resolve()), plan.scanned.digest
        progress = self._progress(skip)
        pending = 0
        index = 0
        try:
            for index, (number, row) in enumerate(readers.rows(plan.scanned), 1):
                if index <= skip:
                    if replay and not isinstance(row, RowError):
                        with contextlib.suppress(RowError):
                            transform.apply(row)
                    continue
                self._one(checkpoint, number, row, transform, mapping, contract, path, digest)
                checkpoint.position, checkpoint.last_row = index, number
                pending += 1
                if pending >= self.options.batch_rows:
                    self._commit(checkpoint)
                    progress.update(pending)
                    pending = 0
                    self._check_gate()
        except InputError as exc:
            self._abort()
            # The open batch is gone: the checkpoint goes back to what was committed.
            failed = Checkpoint.from_json(self.committed.to_json())
            failed.status, failed.reason, failed.finished_ms = FAILED, str(exc), self._now_ms()
            self._commit(failed, self._lineage(failed, "FAIL"))
            raise
        finally:
            progress.update(pending)
            progress.close()
        return max(index - skip, 0)

    def _one(
        self,
        checkpoint: Checkpoint,
        number: int,
        row: Any,
        transform: Transform | None,
        mapping: EventMapping,
        contract: RowContract | None,
        path: str,
        digest: str,
    ) -> None:
        checkpoint.read += 1
        original = row
        try:
            if isinstance(row, RowError):
                raise row
            if transform is not None:
                original = dict(row)
                dropped, row = transform.apply(row)
                if dropped == "filtered":
                    checkpoint.filtered += 1
                    return
                if dropped == "deduplicated":
                    checkpoint.deduplicated += 1
                    return
            record = mapping.event(row, digest, number)
            if contract is not None:
                broken = contract.violations(record)
                if broken:
                    raise RowError("contract", "; ".join(broken))
            try:
                value = self.codec.encode(mapping.schema, record)
            except ValueError as exc:
                raise RowError("schema", str(exc)) from None
            if len(value) > MAX_EVENT_BYTES:
                raise RowError(
                    "too_large", f"the event is {len(value)} bytes, over {MAX_EVENT_BYTES}"
                )
        except RowError as error:
            checkpoint.count_bad(error.kind)
            shown = original.original if isinstance(original, RowError) else original
            key, value, headers = dead_letter(self.topic, path, digest, number, shown, error)
            self._produce(self.dlq_topic, value, key, headers)
            return
        self._produce(self.topic, value, str(record["model"]).encode())
        checkpoint.sent += 1

    def _progress(self, initial: int) -> Any:
        from tqdm import tqdm

        on = self.options.progress and sys.stderr.isatty()
        return tqdm(
            total=self.plan.scanned.rows,
            initial=initial,
            unit="rows",
            file=sys.stderr,
            disable=not on,
            desc=self.plan.scanned.path.name,
        )

    def close(self) -> None:
        """Best effort: a transaction left open is aborted by the broker's timeout or by
        the next run with this transactional id, never committed."""
        if self.producer is None:
            return
        try:
            self._abort()
            self.producer.flush()
        except Exception as exc:  # the run's own outcome is already reported
            log.warning("closing the producer: %s", exc)
