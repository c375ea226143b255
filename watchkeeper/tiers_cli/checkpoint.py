"""A replay's identity and progress, without Kafka.

A replay is named by what it reads and where it writes (:class:`ReplayId`): the same root,
topic, tier, range, condition and target give the same key, hence the same transactional
id — a re-run fences the killed one (Kafka aborts its open transaction) and resumes from
the :class:`Checkpoint` committed with the last transaction. The checkpoint (the last
offset replayed per partition, whether the replay finished, which run of it this is) is a
record on the compacted ``replay-state`` topic under that key.

>>> rid = ReplayId("file:///tiers", "predictions", "all", 0, 3_600_000, "wk.predictions")
>>> rid.key() == ReplayId("file:///tiers", "predictions", "all", 0, 3_600_000,
...                       "wk.predictions").key()
True
>>> rid.key() != ReplayId("file:///tiers", "predictions", "all", 0, 7_200_000,
...                       "wk.predictions").key()
True
>>> rid.transactional_id().startswith("wk-replay-")
True
>>> point = Checkpoint(run=1).advanced({0: 41, 3: 7}, 2)
>>> Checkpoint.decode(point.encode()) == point, point.positions, point.sent
(True, {0: 41, 3: 7}, 2)
>>> Checkpoint.decode(point.finished().encode()).done
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class ReplayId:
    """What makes two replays the same one."""

    root: str
    topic: str
    tier: str
    since_ms: int | None
    until_ms: int | None
    target: str
    where: str | None = None

    def key(self) -> str:
        spec = json.dumps(
            [self.root, self.topic, self.tier, self.since_ms, self.until_ms, self.target,
             self.where or ""]
        )  # fmt: skip
        return "replay-" + hashlib.sha256(spec.encode()).hexdigest()[:32]

    def transactional_id(self) -> str:
        return "wk-" + self.key()

    def describe(self) -> dict:
        return {"root": self.root, "topic": self.topic, "tier": self.tier,
                "since_ms": self.since_ms, "until_ms": self.until_ms, "target": self.target,
                "where": self.where}  # fmt: skip


@dataclass(frozen=True)
class Checkpoint:
    """How far one run of a replay got: the last offset sent per source partition."""

    run: int = 0
    positions: dict[int, int] = field(default_factory=dict)
    sent: int = 0
    done: bool = False
    replay: dict = field(default_factory=dict)  # the ReplayId, for whoever reads the topic

    def advanced(self, positions: dict[int, int], sent: int) -> Checkpoint:
        return replace(self, positions={**self.positions, **positions}, sent=self.sent + sent)

    def finished(self) -> Checkpoint:
        return replace(self, done=True)

    def again(self) -> Checkpoint:
        """A fresh run of a replay (``--again``): nothing sent yet."""
        return Checkpoint(run=self.run + 1, replay=self.replay)

    def encode(self) -> bytes:
        return json.dumps(
            {"run": self.run, "positions": {str(p): o for p, o in sorted(self.positions.items())},
             "sent": self.sent, "done": self.done, "replay": self.replay},
            sort_keys=True,
        ).encode()  # fmt: skip

    @classmethod
    def decode(cls, data: bytes) -> Checkpoint:
        raw = json.loads(data)
        return cls(
            run=int(raw["run"]),
            positions={int(p): int(o) for p, o in raw["positions"].items()},
            sent=int(raw["sent"]),
            done=bool(raw["done"]),
            replay=raw.get("replay") or {},
        )
