"""Reading one partition of a task's changelog back, every read bounded.

A restore runs when a partition is assigned and after an aborted transaction. It reads the
committed records of partition *p* of the state topic from the beginning to the end and
hands each to the task. A broker that stops serving the partition must not hold the loop
for ever: each read is a watchdog call, and a restore that gets nothing for
``stall_s`` raises, which ends the process for a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from .watchdog import Watchdog

log = logging.getLogger(__name__)


def restore(
    config: dict,
    topic: str,
    partition: int,
    apply: Callable[[bytes, bytes | None], None],
    watchdog: Watchdog,
    timeout_s: float,
    bound_s: float,
) -> int:
    """Apply every committed record of ``topic``/``partition``; return how many."""
    with watchdog.call("changelog reader: create", bound_s):
        reader = Consumer(config)
    try:
        low, high = _watermarks(
            reader, TopicPartition(topic, partition), watchdog, timeout_s, bound_s
        )
        if high <= low:
            return 0
        reader.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        count = 0
        quiet_since = time.monotonic()
        while True:
            with watchdog.call("changelog: poll", bound_s):
                message = reader.poll(1.0)
            if message is None:
                if time.monotonic() - quiet_since > timeout_s:
                    raise KafkaException(
                        KafkaError(
                            KafkaError._TIMED_OUT,
                            f"restoring {topic} [{partition}]: nothing read for {timeout_s} s",
                        )
                    )
                continue
            quiet_since = time.monotonic()
            error = message.error()
            if error:
                if error.code() == KafkaError._PARTITION_EOF:
                    return count
                raise KafkaException(error)
            apply(message.key(), message.value())
            count += 1
    finally:
        with watchdog.call("changelog reader: close", bound_s):
            reader.close()


_NOT_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TRANSPORT,
}


def _watermarks(
    reader: Consumer, tp: TopicPartition, watchdog: Watchdog, timeout_s: float, bound_s: float
) -> tuple[int, int]:
    """The partition's offsets, asking again while the answer is a retriable error: a state
    topic created a moment ago may have no leader yet (NOT_LEADER_FOR_PARTITION), and a
    restarted broker may not lead it yet."""
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    while True:
        try:
            with watchdog.call("changelog: get_watermark_offsets", bound_s):
                return reader.get_watermark_offsets(tp, timeout=timeout_s)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            retriable = isinstance(error, KafkaError) and (
                error.retriable() or error.code() in _NOT_YET
            )
            if not retriable or time.monotonic() + delay > deadline:
                raise
            log.info(
                "changelog offsets not available yet; asking again",
                extra={"topic": tp.topic, "partition": tp.partition, "error": str(error)},
            )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
