"""The checkpoint of one file into one target: where an ingest got to, committed in the
same transaction as the rows it counts (on the compacted ``ingest-state`` topic).

Key ``<file sha256>:<target>`` (e.g. ``sha256:6d8a…:predictions``); value JSON. ``position``
is how many rows of the file (in reading order, bad and filtered ones included) the
committed transactions account for: a restart skips exactly that many and goes on.

>>> c = Checkpoint.new("sha256:00", "predictions", "/d/p.csv", started_ms=1_700_000_000_000)
>>> c.key()
b'sha256:00:predictions'
>>> c.count_bad("cast"); c.position = 10; c.sent = 9
>>> again = Checkpoint.from_json(c.to_json())
>>> again.position, again.bad, again.status, again == c
(10, {'cast': 1}, 'running', True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass
class Checkpoint:
    digest: str
    target: str
    file: str  # the file's name
    path: str  # its absolute path when it was ingested
    attempt: int = 1  # 2, 3 ... after --again
    status: str = RUNNING
    position: int = 0
    last_row: int = 0  # the row number (file line / row index) of the last row accounted for
    read: int = 0
    sent: int = 0
    bad: dict[str, int] = field(default_factory=dict)
    filtered: int = 0
    deduplicated: int = 0
    started_ms: int = 0
    finished_ms: int | None = None
    reason: str = ""  # why it failed

    @classmethod
    def new(
        cls, digest: str, target: str, path: str, started_ms: int, attempt: int = 1
    ) -> Checkpoint:
        return cls(
            digest,
            target,
            Path(path).name,
            str(Path(path).resolve()),
            attempt,
            started_ms=started_ms,
        )

    @staticmethod
    def key_of(digest: str, target: str) -> bytes:
        return f"{digest}:{target}".encode()

    def key(self) -> bytes:
        return self.key_of(self.digest, self.target)

    def count_bad(self, kind: str) -> None:
        self.bad[kind] = self.bad.get(kind, 0) + 1

    @property
    def bad_rows(self) -> int:
        return sum(self.bad.values())

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        value: dict[str, Any] = orjson.loads(data)
        known = {k: v for k, v in value.items() if k in cls.__dataclass_fields__}
        return cls(**known)
