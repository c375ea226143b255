"""Asking again while a partition's leader is not answering yet: a topic just created
(or a broker just restarted) shows a leader in the metadata a moment before that leader
serves it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")

NOT_YET = (
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
)


def once_led(call: Callable[[], T], timeout: float) -> T:
    """``call()``, again every 0.1 s while it fails with one of NOT_YET, for ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except KafkaException as exc:
            if exc.args[0].code() not in NOT_YET or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
