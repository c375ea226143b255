"""What every launcher shares: the run it is given, what launching returns, the states a
poll can report, and the two errors the service tells apart (retry later, or give up).

>>> ctx = RunContext("fraud-7", "fraud", "3.2.0",
...     reasons=[{"kind": "drift", "reason": "amount PSI 0.31", "dedup_key": "d1", "evidence": {}}],
...     datasets=[{"name": "fraud-train", "version": "12", "uri": "s3://b/fraud/12"}],
...     callback_url="http://127.0.0.1:8090/api/v1/runs/fraud-7/callback",
...     callback_token="t0k")
>>> ctx.run_number
7
>>> sorted(ctx.conf())
['callback_token', 'callback_url', 'datasets', 'model', 'reasons', 'run_id', 'version']
>>> Status("running").finished, Status("failed", "exited with code 3").finished
(False, True)
>>> Status("done")
Traceback (most recent call last):
...
ValueError: state must be one of running, succeeded, failed, got 'done'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

STATES = ("running", "succeeded", "failed")


class LaunchError(Exception):
    """The launch failed for good (a 4xx, a bad command): the run fails with this reason."""


class Retry(Exception):
    """A transient fault (5xx, connection refused, timeout): try again after a backoff.

    Nothing was launched, or the launch is idempotent on the other side, so repeating the
    same call is safe."""


@dataclass(frozen=True)
class RunContext:
    """One run as the launchers see it (the service's run record, minus its timeline)."""

    run_id: str
    model: str
    version: str  # the champion being replaced
    reasons: list[dict[str, Any]] = field(default_factory=list)
    datasets: list[dict[str, Any]] = field(default_factory=list)
    callback_url: str = ""
    callback_token: str = field(default="", repr=False)
    env: dict[str, str] = field(default_factory=dict)  # the policy's extra environment

    def __post_init__(self) -> None:
        # The run id names a folder (local) and a DAG run (Airflow): keep it to safe characters.
        if not self.run_id or not all(c.isalnum() or c in "-_." for c in self.run_id):
            raise ValueError(
                f"run_id must be letters, digits, '-', '_' or '.', got {self.run_id!r}"
            )
        if self.run_id in (".", ".."):
            raise ValueError(f"run_id {self.run_id!r} is not a usable name")

    @property
    def run_number(self) -> int | None:
        """The trailing number of ``fraud-7`` (7), used for candidate versions like 3.2.0-r7."""
        tail = self.run_id.rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() else None

    def conf(self) -> dict[str, Any]:
        """The run context as JSON: what webhook pipelines receive."""
        return {
            "run_id": self.run_id,
            "model": self.model,
            "version": self.version,
            "reasons": self.reasons,
            "datasets": self.datasets,
            "callback_url": self.callback_url,
            "callback_token": self.callback_token,
        }


@dataclass(frozen=True)
class Launched:
    """What a launch returns: the orchestrator's id for the run, and a line for the timeline."""

    external_id: str
    detail: str = ""


@dataclass(frozen=True)
class Status:
    state: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, got {self.state!r}")

    @property
    def finished(self) -> bool:
        return self.state != "running"


class Launcher(Protocol):
    """Every launcher has this shape; ``launch`` is idempotent by ``ctx.run_id``."""

    kind: str

    def launch(self, ctx: RunContext) -> Launched: ...

    def poll(self, launched: Launched) -> Status: ...

    def cancel(self, launched: Launched) -> str: ...
