"""The write-failure state: since when, the last error, when to try again (exponential
backoff up to a cap), and the ``ArchiveWriteFailing`` alert it raises.

>>> state = Failing(retry_max_s=4.0)
>>> state.failed("OSError: disk full", now_ms=1000, now_s=10.0), state.retry_at_s
(True, 10.5)
>>> [state.failed("again", 2000, 11.0) for _ in range(4)][-1], state.delay_s, state.since_ms
(False, 4.0, 1000)
>>> import json
>>> from watchkeeper.kit import AlertEmitter
>>> emitter = AlertEmitter("archive", lambda _schema, r: json.dumps(r).encode())
>>> out = state.alert(emitter, "firing", {"group": "wk.archive"}, 60.0, now_ms=61_000)
>>> alert = json.loads(out.value)
>>> alert["status"], alert["labels"]["alertname"], alert["value"], alert["annotations"]["summary"]
('FIRING', 'ArchiveWriteFailing', 60.0, 'the archive cannot write to its tiers: again')
>>> state.cleared(); state.since_ms is None, state.delay_s
(True, 0.5)
"""

from __future__ import annotations

from typing import Any

FIRST_DELAY_S = 0.5
ALERT = "ArchiveWriteFailing"


class Failing:
    def __init__(self, retry_max_s: float) -> None:
        self.retry_max_s = retry_max_s
        self.since_ms: int | None = None
        self.error = ""
        self.delay_s = FIRST_DELAY_S
        self.retry_at_s = 0.0

    def failed(self, error: str, now_ms: int, now_s: float) -> bool:
        """Record a failure; True when it is the first of a streak."""
        first = self.since_ms is None
        if first:
            self.since_ms, self.delay_s = now_ms, FIRST_DELAY_S
        else:
            self.delay_s = min(self.delay_s * 2, self.retry_max_s)
        self.error = error
        self.retry_at_s = now_s + self.delay_s
        return first

    def alert(
        self, emitter: Any, status: str, identity: dict[str, str], after_s: float, now_ms: int
    ) -> Any:
        """The alert's record (an ``Output`` of ``kit.AlertEmitter``) for this streak."""
        since = self.since_ms if self.since_ms is not None else now_ms
        return emitter.emit(
            {"alertname": ALERT, **identity},
            status,
            labels={"severity": "page"},
            annotations={
                "summary": f"the archive cannot write to its tiers: {self.error}",
                "description": "consumption is paused and lag grows; nothing is lost",
            },
            value=(now_ms - since) / 1000,
            threshold=after_s,
            starts_at_ms=since,
            now_ms=now_ms,
            ends_at_ms=now_ms if status == "resolved" else None,
        )

    def cleared(self) -> None:
        self.since_ms, self.error, self.delay_s = None, "", FIRST_DELAY_S
