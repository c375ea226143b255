"""Counting, free of Kafka: one ``CounterTask`` per input partition over one process-wide
``EventCounter``.

>>> counter = EventCounter(max_series=2)
>>> counter.add("predictions", {"model": "fraud", "version": "3", "status": "OK"})
('predictions', 'fraud', '3', 'OK')
>>> counter.add("predictions", {"model": "fraud", "version": "3", "status": "ERROR"})
('predictions', 'fraud', '3', 'ERROR')
>>> counter.add("feedback", {"model": "eta", "version": None})
('feedback', 'eta', '', '')
>>> counter.add("predictions", {"model": "chat", "version": "1", "status": "OK"})
('predictions', '_other', '_other', 'OK')
>>> counter.total(), counter.capped
(4, 1)

Tasks share their counter, so the cap is on the process's series, whatever the number of
partitions it was handed:

>>> shared = EventCounter(max_series=1)
>>> a, b = CounterTask(shared), CounterTask(shared)
>>> a.restored(); b.restored()
>>> a.process("predictions", {"model": "m1", "version": "1", "status": "OK"})
>>> b.process("predictions", {"model": "m2", "version": "1", "status": "OK"})
>>> shared.capped, a.drain(), b.pending_output()
(1, ([], []), False)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from watchkeeper.kit.task import BaseTask

from . import metrics

OTHER = "_other"

Key = tuple[str, str, str, str]


class EventCounter:
    """Counts per (topic, model, version, status).

    At most ``max_series`` distinct (model, version) pairs get their own count; the rest
    are folded into ``_other`` and counted in ``capped``, so a client that sends a new
    version string per request cannot blow up memory or the metrics backend.
    """

    def __init__(self, max_series: int = 1000) -> None:
        self.max_series = max_series
        self.counts: Counter[Key] = Counter()
        self._series: set[tuple[str, str]] = set()
        self.capped = 0

    def add(self, topic: str, record: Mapping[str, Any]) -> Key:
        series = (record["model"], record.get("version") or "")
        if series not in self._series:
            if len(self._series) >= self.max_series:
                self.capped += 1
                series = (OTHER, OTHER)
            else:
                self._series.add(series)
        key = (topic, series[0], series[1], record.get("status") or "")
        self.counts[key] += 1
        return key

    def total(self) -> int:
        return sum(self.counts.values())


class CounterTask(BaseTask):
    """Counts into Prometheus; no state to restore (counts restart with the process), no
    output topic."""

    def __init__(self, counter: EventCounter) -> None:
        super().__init__()
        self.counter = counter

    def process(self, topic: str, record: dict[str, Any]) -> None:
        key = self.counter.add(topic, record)
        if key[1] == OTHER:
            metrics.SERIES_CAPPED.inc()
        metrics.EVENTS.labels(*key).inc()
