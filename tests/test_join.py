"""The pending-prediction changelog: records stay under Kafka's size limit, a restore gives
back exactly what is still pending, and compaction keeps the log about as large as the store."""

from __future__ import annotations

import random

from watchkeeper.join import MAX_RECORD_CHARS, PendingLog


def compact(log: dict[bytes, bytes], records: list[tuple[bytes, bytes | None]]) -> None:
    """What a compacted topic keeps: the last value per key, tombstones removed."""
    for key, value in records:
        if value is None:
            log.pop(key, None)
        else:
            log[key] = value


def test_a_commit_with_more_predictions_than_a_record_holds_is_split_and_restores_whole() -> None:
    log, topic = PendingLog(), {}
    entries = {
        f"event-{i:06d}-{'x' * 40}": f"{1_767_225_600_000 + i}\x1fslegit" for i in range(30_000)
    }
    for event_id, entry in entries.items():
        log.added(event_id, entry)
    records = log.drain()
    assert len(records) > 1, "30,000 entries of ~70 characters need more than one record"
    assert all(len(value) <= 4 * MAX_RECORD_CHARS for _, value in records if value is not None)
    compact(topic, records)
    restored = PendingLog()
    for key, value in topic.items():
        restored.restore(key, value)
    assert dict(restored.finish()) == entries


def test_random_adds_and_removals_restore_exactly_and_compaction_keeps_the_log_small() -> None:
    rng = random.Random(4)
    log, topic = PendingLog(), {}
    alive: dict[str, str] = {}
    written: set[str] = set()
    for commit in range(200):
        for _ in range(rng.randint(0, 400)):
            event_id = f"e{rng.getrandbits(40):x}"
            alive[event_id] = f"{commit}\x1fs{rng.choice('ab')}"
            log.added(event_id, alive[event_id])
        for event_id in rng.sample(sorted(alive), k=min(len(alive), rng.randint(0, 450))):
            del alive[event_id]
            log.removed(event_id)
        records = log.drain()
        compact(topic, records)
        written.update(k for k, v in records if v is not None)
        if commit % 50 == 49:
            restored = PendingLog()
            for key, value in topic.items():
                restored.restore(key, value)
            assert dict(restored.finish()) == alive
    # Everything taken out at the end: compaction leaves nothing behind.
    for event_id in list(alive):
        log.removed(event_id)
    compact(topic, log.drain())
    assert written and topic == {}
