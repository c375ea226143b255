"""What an ingest did, for a person (text) or a program (``--json``).

>>> from .checkpoint import Checkpoint
>>> c = Checkpoint.new("sha256:00", "predictions", "/d/p.csv", started_ms=0)
>>> c.read, c.sent, c.filtered, c.status = 10, 8, 1, "done"; c.count_bad("cast")
>>> s = Summary.of(c, "wk.predictions", rows_this_run=10, elapsed_s=2.0)
>>> print(s.text())
p.csv -> wk.predictions: done
  rows read 10, sent 8, dead-lettered 1 (cast 1), filtered 1, deduplicated 0
  10 rows in 2.00 s (5 rows/s)
>>> s.as_dict()["dead_lettered"]
{'cast': 1}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .checkpoint import Checkpoint


@dataclass
class Summary:
    file: str
    path: str
    digest: str
    topic: str
    attempt: int
    status: str
    rows_read: int
    sent: int
    dead_lettered: dict[str, int]
    filtered: int
    deduplicated: int
    resumed_from: int
    rows_this_run: int
    elapsed_s: float
    note: str = ""
    started_ms: int = 0
    finished_ms: int | None = None

    @classmethod
    def of(
        cls,
        c: Checkpoint,
        topic: str,
        rows_this_run: int,
        elapsed_s: float,
        resumed_from: int = 0,
        note: str = "",
        status: str | None = None,
    ) -> Summary:
        return cls(
            c.file,
            c.path,
            c.digest,
            topic,
            c.attempt,
            status or c.status,
            c.read,
            c.sent,
            dict(sorted(c.bad.items())),
            c.filtered,
            c.deduplicated,
            resumed_from,
            rows_this_run,
            elapsed_s,
            note,
            c.started_ms,
            c.finished_ms,
        )

    @property
    def rows_per_s(self) -> float:
        return self.rows_this_run / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["rows_per_s"] = round(self.rows_per_s, 1)
        out["elapsed_s"] = round(self.elapsed_s, 3)
        return out

    def text(self) -> str:
        bad = sum(self.dead_lettered.values())
        reasons = ", ".join(f"{k} {v}" for k, v in self.dead_lettered.items())
        lines = [
            f"{self.file} -> {self.topic}: {self.status}"
            + (f" ({self.note})" if self.note else ""),
            f"  rows read {self.rows_read}, sent {self.sent}, dead-lettered {bad}"
            + (f" ({reasons})" if reasons else "")
            + f", filtered {self.filtered}, deduplicated {self.deduplicated}",
            f"  {self.rows_this_run} rows in {self.elapsed_s:.2f} s ({self.rows_per_s:,.0f} rows/s)"
            + (f", resumed after row {self.resumed_from}" if self.resumed_from else ""),
        ]
        return "\n".join(lines)
