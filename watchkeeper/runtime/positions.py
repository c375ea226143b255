"""Where the batch engine's tasks are: the input offsets a commit sends with their state.

A transaction commits the tasks' outputs and state changes with "the next offset to read"
of every input partition, so those offsets must say how far the tasks' state got. Asking
the consumer's ``position()`` when committing does not: ``position()`` is how far
*librdkafka* went, and it moves without the application. While ``close()`` waits for the
last revoke, librdkafka drops the messages it fetched but did not deliver, yet still steps
over the transaction markers behind them (``rd_kafka_op_handle_std`` stores a control
message's offset). A commit made in that revoke, with ``position()`` read then, put the
offsets past records no task had seen: the next owner started after them and they were
never counted (the ledger's ``cost-spend`` input, written in transactions, lost whole
batches when an instance stopped on SIGTERM).

So the engine reads ``position()`` once per turn of its loop, right after the tasks took in
what ``consume()`` returned (their state and librdkafka agree then: the markers of that
batch are stepped over, nothing else is), keeps it here, and commits that.

>>> from confluent_kafka import OFFSET_INVALID, TopicPartition
>>> taken = Positions()
>>> taken.taken_in([TopicPartition("in", 0, 4), TopicPartition("in", 1, OFFSET_INVALID)])
>>> [(tp.topic, tp.partition, tp.offset) for tp in taken.offsets()]
[('in', 0, 4)]
>>> taken.forget([0])
>>> taken.offsets()
[]
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import TopicPartition


class Positions:
    def __init__(self) -> None:
        self._next: dict[tuple[str, int], int] = {}

    def taken_in(self, positions: Iterable[TopicPartition]) -> None:
        """``position()`` of the assignment, read just after the tasks processed the batch.

        Replaces what was here: a partition no longer assigned, or not read since a seek
        (librdkafka says ``OFFSET_INVALID``), has no offset to commit."""
        self._next = {(tp.topic, tp.partition): tp.offset for tp in positions if tp.offset >= 0}

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions given up (revoked) or rewound: their offsets are not ours to send."""
        gone = set(partitions)
        self._next = {key: offset for key, offset in self._next.items() if key[1] not in gone}

    def offsets(self) -> list[TopicPartition]:
        return [TopicPartition(topic, part, offset) for (topic, part), offset in self._next.items()]
