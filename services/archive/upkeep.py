"""One maintenance round over the partitions an instance owns: compaction and retention
(:func:`.compaction.maintain`) of each, counted in the metrics. A partition whose round
fails is counted and left for the next round; the others go on.

>>> import tempfile
>>> from watchkeeper.tiering.store import Store
>>> from .policy import Policy
>>> upkeep(Store.open(tempfile.mkdtemp()), Policy(), {"feedback": {0: 10}}, 0, 19)
0
"""

from __future__ import annotations

import logging

from watchkeeper.tiering.layout import ARCHIVE
from watchkeeper.tiering.store import Store

from . import metrics
from .compaction import maintain
from .policy import Policy

log = logging.getLogger(__name__)


def upkeep(
    store: Store, policy: Policy, owned: dict[str, dict[int, int]], now_ms: int, level: int
) -> int:
    """``owned``: {logical topic: {partition: committed offset}}. Returns how many
    partitions failed."""
    failed = 0
    for topic, partitions in sorted(owned.items()):
        for partition, below in sorted(partitions.items()):
            try:
                report = maintain(
                    store, topic, partition, below, policy.for_topic(topic), now_ms, level
                )
            except Exception as exc:  # the next round retries; consumption goes on
                failed += 1
                metrics.WRITE_FAILURES.labels("maintain").inc()
                log.warning("maintenance failed", extra={"topic": topic, "error": str(exc)[:500]})
                continue
            for done in report.compacted:
                metrics.COMPACTIONS.inc()
                metrics.BYTES.labels(ARCHIVE).inc(done.bytes)
                metrics.PARTS.labels(ARCHIVE).inc()
                log.info("compacted", extra={"part": done.path, "rows": done.rows,
                                             "sources": len(done.sources)})  # fmt: skip
            for tier, count in report.deleted.items():
                metrics.RETENTION_DELETIONS.labels(tier).inc(count)
    return failed
