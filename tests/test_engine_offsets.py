"""The batch engine commits the offsets of what its tasks processed, not what librdkafka
fetched: records fetched but never handed to a task, followed by a transaction marker, are
left for the next owner when the engine stops (``watchkeeper/runtime/positions.py``).

The engine runs here in the test's own process, turn by turn, so that the test decides
what it has consumed when it stops."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from watchkeeper.codec import Codec
from watchkeeper.kit.task import BaseTask
from watchkeeper.runtime import clients
from watchkeeper.runtime.batch import BatchService
from watchkeeper.runtime.transaction import Transactions
from watchkeeper.settings import ServiceSettings

from .helpers import wait_for

pytestmark = pytest.mark.kafka
CODEC = Codec()


class Counting(BaseTask):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def process(self, topic: str, record: dict) -> None:
        self.requests += record["requests"]


def spend(requests: int) -> bytes:
    record = {
        "scope": "all",
        "labels": {},
        "window_start_ms": 0,
        "window_ms": 10_000,
        "event_time_ms": 1,
        "requests": requests,
        "cost_usd": 0.0,
        "source_partition": 0,
        "emitted_at_ms": 1,
    }
    return CODEC.encode("CostSpend", record)


def write_transaction(producer: Producer, topic: str, requests: list[int]) -> None:
    """Records on partition 0 and, behind them, the transaction's commit marker."""
    producer.begin_transaction()
    for n in requests:
        producer.produce(topic, spend(n), b"all", partition=0)
    producer.commit_transaction(30)


def engine(settings: ServiceSettings, tasks: list[Counting]) -> BatchService:
    """A BatchService with its clients made as ``run()`` makes them, subscribed."""

    def task(_partition: int) -> Counting:
        tasks.append(Counting())
        return tasks[-1]

    service = BatchService(settings, {"cost-spend": "CostSpend"}, task)
    service._consumer = Consumer(clients.engine_consumer(settings, "t"))
    service._txn = Transactions(
        Producer(clients.transactional_producer(settings, "t")),
        service.watchdog,
        settings.name,
        call_timeout_s=service.call_timeout_s,
        grace_s=service.bound_s - service.call_timeout_s,
        give_up_after_s=60.0,
    )
    service._txn.begin(init_timeout_s=60.0)
    service._consumer.subscribe(
        [settings.topic("cost-spend")], on_assign=service._on_assign, on_revoke=service._on_revoke
    )
    return service


def test_records_fetched_but_not_processed_are_not_committed_at_close(
    kafka_settings, prefix
) -> None:
    settings = ServiceSettings(
        name="engine-test", kafka=kafka_settings, prefix=prefix, group=f"{prefix}engine-test"
    )
    topic = settings.topic("cost-spend")
    writer = Producer(kafka_settings.confluent(**{"transactional.id": f"{prefix}writer"}))
    writer.init_transactions(30)
    tasks: list[Counting] = []
    service = engine(settings, tasks)
    consumer = service._consumer
    assert consumer is not None
    tp = TopicPartition(topic, 0)

    # Offsets 0-2 and their marker at 3: processed, and the engine stands at 4.
    write_transaction(writer, topic, [10, 20, 30])

    def turned_to(offset: int) -> bool:
        service._turn()
        return consumer.position([tp])[0].offset == offset

    wait_for(lambda: turned_to(4), timeout=60, what="the first transaction consumed")
    assert sum(t.requests for t in tasks) == 60

    # Offsets 4-6 and their marker at 7: fetched by librdkafka, never consumed. The
    # cached high watermark comes with the fetch response that holds them.
    write_transaction(writer, topic, [1, 2, 3])
    wait_for(
        lambda: consumer.get_watermark_offsets(tp, cached=True)[1] == 8,
        timeout=60,
        what="the second transaction fetched",
    )
    # What run() does on SIGTERM: commit, then close (which revokes and commits again).
    service._commit(force=True)
    consumer.close()
    assert service._txn is not None
    service._txn.flush(10)

    reader = Consumer(kafka_settings.confluent(**{"group.id": settings.group}))
    try:
        committed = reader.committed([tp], timeout=30)
    finally:
        reader.close()
    assert sum(t.requests for t in tasks) == 60
    # At 8 the next owner would start after records 4-6: they would never be counted.
    assert [c.offset for c in committed] == [4]
