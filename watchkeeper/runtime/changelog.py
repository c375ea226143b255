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
        with watchdog.call("changelog: get_watermark_offsets", bound_s):
            low, high = reader.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout_s
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
