"""A transformation hook for the ingest tests: hangs on one row (the process is then killed
with SIGKILL mid-file), raises on another (that row is dead-lettered), passes the rest."""

from __future__ import annotations

import os
import threading


def hang_or_pass(row: dict) -> dict:
    if row.get("id") == os.environ.get("WK_TEST_HANG_AT_ID"):
        threading.Event().wait()  # until SIGKILL
    if row.get("id") == os.environ.get("WK_TEST_RAISE_AT_ID", "raise"):
        raise RuntimeError("the hook refuses this row")
    return row


def block_gate_at(row: dict) -> dict:
    """On the row with id ``WK_TEST_BLOCK_AT_ID``, publish a BLOCKED state for the gate
    ``WK_TEST_GATE`` on ``WK_TEST_GATES_TOPIC``, as the quality service would, and wait
    until it is written: the ingest finds it before its next transaction."""
    if row.get("id") == os.environ.get("WK_TEST_BLOCK_AT_ID"):
        from confluent_kafka import Producer

        from watchkeeper.codec import Codec

        gate = os.environ["WK_TEST_GATE"]
        state = {
            "gate": gate,
            "model": "fraud",
            "state": "BLOCKED",
            "reasons": [{"check": "freshness", "value": 0.4, "threshold": 0.95}],
            "since_ms": 1_796_119_200_000,
            "event_time_ms": 1_796_119_200_000,
        }
        producer = Producer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]})
        producer.produce(
            os.environ["WK_TEST_GATES_TOPIC"], Codec().encode("GateState", state), gate.encode()
        )
        assert producer.flush(30) == 0
    return row
