"""What a disaster lost: events a cluster acknowledged that never reached its replica.

Kafka-free, so the arithmetic is tested alone. ``acked`` maps each event id the dead
cluster holds in its log (acknowledged with ``acks=all``) to its event time; ``survived``
is every event id the surviving cluster holds after the failover.

>>> died = 10_000
>>> lost = recovery_point({"a": 1_000, "b": 7_500, "c": 9_800}, {"a", "c"}, died)
>>> lost.events, lost.seconds, lost.acked
(1, 2.5, 3)
>>> recovery_point({"a": 1_000}, {"a", "z"}, died)
RecoveryPoint(events=0, seconds=0.0, acked=1)
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass


@dataclass(frozen=True)
class RecoveryPoint:
    events: int  # acknowledged by the dead cluster, missing on the survivor
    seconds: float  # from the oldest lost event to the death: how far back data is gone
    acked: int  # what the dead cluster had acknowledged in all

    @property
    def ok(self) -> bool:
        return self.events == 0


def recovery_point(acked: Mapping[str, int], survived: Set[str], died_at_ms: int) -> RecoveryPoint:
    lost = [ts for event_id, ts in acked.items() if event_id not in survived]
    if not lost:
        return RecoveryPoint(0, 0.0, len(acked))
    return RecoveryPoint(len(lost), max(0.0, (died_at_ms - min(lost)) / 1000.0), len(acked))
