"""A transactional producer for the command-line tools that commit their progress with
their output (``watchkeeper ingest``, ``watchkeeper replay``): records and a checkpoint
record on a compacted state topic go in one transaction, so a killed run's re-run (same
transactional id: it fences the old one and Kafka aborts its open transaction) resumes
exactly where the last commit left it.

The batch engine has its own (:mod:`.transaction`: offsets, a watchdog, a transaction always
open); these tools open one lazily, and end each one only after everything in it was
delivered: librdkafka can otherwise send EndTxn before a partition was added to the
transaction, which the broker answers with a fatal INVALID_TXN_STATE
(confluentinc/librdkafka#4849, seen here on an abort and on a commit after one).
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaException, Producer

from ..settings import KafkaSettings
from .clients import ride_out_broker_restarts

RETRY_PAUSE_S = 0.5


class Aborted(Exception):
    """The transaction was aborted (its records are never read); redo its work or stop."""


class Undelivered(Exception):
    """Records of the open transaction were not delivered within the call timeout."""


class CheckpointedProducer:
    """One transactional id's producer: :meth:`produce` into an open transaction (opened on
    the first record), :meth:`commit` it, :meth:`abort` it."""

    def __init__(
        self,
        settings: KafkaSettings,
        transactional_id: str,
        call_timeout_s: float,
        transaction_timeout_ms: int = 60_000,
        **overrides: Any,
    ) -> None:
        self.call_timeout_s = call_timeout_s
        self.producer = Producer(
            settings.confluent(
                **{
                    "transactional.id": transactional_id,
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 20,
                    "compression.type": "zstd",
                    "transaction.timeout.ms": transaction_timeout_ms,
                    **ride_out_broker_restarts(),
                    **overrides,
                }
            )
        )
        self.open = False

    def fence(self) -> None:
        """Register the transactional id: an earlier holder is fenced and its open
        transaction aborted, so a state topic read after this shows only committed work."""
        self.producer.init_transactions(self.call_timeout_s)

    def produce(self, topic: str, value: bytes, key: bytes | None, **extra: Any) -> None:
        if not self.open:
            self.producer.begin_transaction()
            self.open = True
        while True:
            try:
                self.producer.produce(topic, value, key, **extra)
                return
            except BufferError:
                self.producer.poll(0.1)  # the local queue is full: let deliveries drain it

    def commit(self) -> None:
        """Commit the open transaction; a retriable failure (a broker restarting) is asked
        again for up to three call timeouts; one that needs an abort is aborted and raised
        as :class:`Aborted`; anything else (fenced) is raised as it is."""
        self._delivered()
        deadline = time.monotonic() + 3 * self.call_timeout_s
        while True:
            try:
                self.producer.commit_transaction(self.call_timeout_s)
                self.open = False
                return
            except KafkaException as exc:
                error = exc.args[0]
                if error.txn_requires_abort():
                    self._end_abort()
                    raise Aborted(str(error)) from exc
                if not error.retriable() or time.monotonic() > deadline:
                    raise
                time.sleep(RETRY_PAUSE_S)

    def abort(self) -> None:
        """Abort the open transaction, if one is open."""
        if self.open:
            self._delivered()
            self._end_abort()

    def flush(self) -> int:
        return self.producer.flush(self.call_timeout_s)

    def _end_abort(self) -> None:
        self.producer.abort_transaction(self.call_timeout_s)
        self.open = False

    def _delivered(self) -> None:
        if self.producer.flush(self.call_timeout_s) > 0:
            raise Undelivered(f"records not delivered in {self.call_timeout_s} s")
