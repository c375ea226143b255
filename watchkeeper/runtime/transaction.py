"""The batch engine's transactional producer: every call bounded, retried where librdkafka
says it may be, aborted where it must.

librdkafka sorts a failed transactional call three ways (``KafkaError``): *retriable* — the
same call may be made again (a commit that timed out while a broker restarts);
*txn_requires_abort* — the transaction is lost, abort it and redo its work (a rebalance
fenced our offsets, the coordinator timed the transaction out); anything else is *fatal*
(another instance with our transactional id fenced us): the caller ends the process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import KafkaException, Producer
from prometheus_client import Counter

from .watchdog import Watchdog

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRIES = Counter(
    "wk_engine_call_retries_total",
    "Transactional calls made again after a retriable error.",
    ["service", "call"],
)
ABORTS = Counter(
    "wk_engine_transactions_aborted_total",
    "Transactions the broker refused to commit (a rebalance moved partitions away, the "
    "instance was fenced after a pause) and that were aborted: their outputs never show.",
    ["service", "error"],
)


class Aborted(Exception):
    """The transaction was aborted: its outputs are gone, its work must be redone."""


class Transactions:
    def __init__(
        self,
        producer: Producer,
        watchdog: Watchdog,
        service: str,
        call_timeout_s: float,
        grace_s: float,
        give_up_after_s: float,
    ) -> None:
        self.producer = producer
        self.watchdog = watchdog
        self.service = service
        self.call_timeout_s = call_timeout_s
        self.bound_s = call_timeout_s + grace_s
        self.give_up_after_s = give_up_after_s

    def begin(self, init_timeout_s: float) -> None:
        """Register the transactional id (fencing an earlier holder), open a transaction."""
        with self.watchdog.call("init_transactions", init_timeout_s + self.bound_s):
            self.producer.init_transactions(init_timeout_s)
        self.producer.begin_transaction()

    def produce(self, topic: str, value: bytes | None, key: bytes | None, **kwargs: Any) -> None:
        """Queue a record; while librdkafka's queue is full (the broker is away), serve
        deliveries until there is room, as long as the watchdog allows."""
        try:
            self.producer.produce(topic, value, key, **kwargs)
            return
        except BufferError:
            pass
        with self.watchdog.call("produce: local queue full", self.bound_s):
            while True:
                self.producer.poll(0.1)
                try:
                    self.producer.produce(topic, value, key, **kwargs)
                    return
                except BufferError:
                    continue

    def commit(self, offsets: list, group_metadata: Any) -> None:
        """Commit the open transaction with ``offsets``, then open the next one.

        Raises :class:`Aborted` after aborting, or ``KafkaException`` when fatal."""
        try:
            if offsets:
                self._call(
                    "send_offsets_to_transaction",
                    lambda: self.producer.send_offsets_to_transaction(
                        offsets, group_metadata, self.call_timeout_s
                    ),
                )
            self._call(
                "commit_transaction", lambda: self.producer.commit_transaction(self.call_timeout_s)
            )
        except KafkaException as exc:
            if not exc.args[0].txn_requires_abort():
                raise
            log.warning("transaction aborted; rolling back", extra={"error": str(exc.args[0])})
            ABORTS.labels(self.service, exc.args[0].name()).inc()
            self._call(
                "abort_transaction", lambda: self.producer.abort_transaction(self.call_timeout_s)
            )
            self.producer.begin_transaction()
            raise Aborted(str(exc.args[0])) from exc
        self.producer.begin_transaction()

    def _call(self, name: str, call: Callable[[], T]) -> T:
        """``call()``, bounded by the watchdog, made again while its error is retriable
        (but not for longer than ``give_up_after_s``)."""
        started = time.monotonic()
        while True:
            try:
                with self.watchdog.call(name, self.bound_s):
                    return call()
            except KafkaException as exc:
                error = exc.args[0]
                waited = time.monotonic() - started
                if not error.retriable() or error.txn_requires_abort() or error.fatal():
                    raise
                if waited > self.give_up_after_s:
                    log.error(
                        "giving up retrying",
                        extra={"call": name, "waited_s": round(waited, 1), "error": str(error)},
                    )
                    raise
                RETRIES.labels(self.service, name).inc()
                log.warning(
                    "retriable error; calling again",
                    extra={"call": name, "waited_s": round(waited, 1), "error": str(error)},
                )

    def flush(self, timeout_s: float) -> int:
        with self.watchdog.call("producer flush", timeout_s + self.bound_s):
            return self.producer.flush(timeout_s)
