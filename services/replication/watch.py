"""When replication lag becomes an alert, free of Kafka.

Each poll hands over the lag of every partition (or says b could not be reached). Per
topic, the worst partition's lag in seconds is compared with the threshold: breaching for
``fire_after`` polls in a row fires ``ReplicationLagging``, ``resolve_after`` clear polls
resolve it (``kit.Hysteresis``). b unreachable for ``down_after`` polls fires
``ReplicationDown``; one poll that reaches it resolves it. While b is unreachable the lag is
unknown, which leaves ``ReplicationLagging`` as it was (no evidence either way).

>>> from watchkeeper.mirror.lag import PartitionLag
>>> watch = ReplicationWatch("b", threshold_s=30, fire_after=2, resolve_after=1,
...                          down_after=2)
>>> behind = [PartitionLag("wk.x", 0, 900, 45.0), PartitionLag("wk.x", 1, 0, 0.0)]
>>> watch.observe(behind, now_ms=1_000), len(watch.observe(behind, now_ms=6_000))
([], 1)
>>> change = watch.observe([PartitionLag("wk.x", 0, 0, 0.0)], now_ms=11_000)[0]
>>> change.identity, change.status, change.starts_at_ms
({'alertname': 'ReplicationLagging', 'target': 'b', 'topic': 'wk.x'}, 'resolved', 6000)
>>> watch.observe(None, now_ms=16_000), watch.observe(None, now_ms=21_000)[0].status
([], 'firing')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from watchkeeper.kit import Hysteresis
from watchkeeper.mirror.lag import PartitionLag


@dataclass(frozen=True)
class Change:
    """One alert turning firing or resolved."""

    identity: dict[str, str]
    status: str
    starts_at_ms: int
    value: float | None
    threshold: float | None
    summary: str


@dataclass
class ReplicationWatch:
    target: str
    threshold_s: float
    fire_after: int = 1
    resolve_after: int = 1
    down_after: int = 1
    _lagging: dict[str, Hysteresis] = field(default_factory=dict)
    _down: Hysteresis = field(default_factory=Hysteresis)

    def observe(self, lags: Iterable[PartitionLag] | None, now_ms: int) -> list[Change]:
        """``lags``: this poll's partitions, or None when b could not be reached."""
        changes = []
        down = self._down.observe(lags is None, now_ms, self.down_after, 1)
        if down:
            changes.append(
                Change(
                    {"alertname": "ReplicationDown", "target": self.target},
                    down,
                    self._down.since_ms,
                    None,
                    None,
                    f"cluster {self.target} cannot be reached: nothing is replicated to it",
                )
            )
        if lags is None:
            return changes
        worst: dict[str, float] = {}
        for lag in lags:
            worst[lag.topic] = max(worst.get(lag.topic, 0.0), lag.seconds)
        # A topic that disappeared from a counts as clear (nothing left to copy).
        for topic in sorted(set(worst) | set(self._lagging)):
            seconds = worst.get(topic, 0.0)
            state = self._lagging.setdefault(topic, Hysteresis())
            status = state.observe(
                seconds > self.threshold_s, now_ms, self.fire_after, self.resolve_after
            )
            if status:
                changes.append(
                    Change(
                        {
                            "alertname": "ReplicationLagging",
                            "target": self.target,
                            "topic": topic,
                        },
                        status,
                        state.since_ms,
                        seconds,
                        self.threshold_s,
                        f"{topic} on {self.target} is {seconds:.0f} s behind "
                        f"(threshold {self.threshold_s:.0f} s)",
                    )
                )
            if not state.firing and state.streak == 0 and topic not in worst:
                del self._lagging[topic]
        return changes
