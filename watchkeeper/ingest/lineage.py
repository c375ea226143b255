"""The OpenLineage run events of one ingest: one job per transformation step, chained.

``file:<absolute path>`` → ``ingest.<source>.<step 1>`` → (``ingest:<source>.<step 1>``)
→ ``ingest.<source>.<step 2>`` → ... → the topic (``kafka://host:port``, the topic's full
name, as ``watchkeeper.clients.dataset_hash`` names topic datasets). Between two steps the
data is a dataset of namespace ``ingest`` named ``<source>.<step>`` (what that step put out),
so the registry's graph shows each step as a job with its input and output. Without a
transformation file the chain is one job, ``ingest.<source>.load``.

Each job gets a START and a COMPLETE (or FAIL) with a run id derived from the file's content
hash, the target, the attempt and the step: a retry sends the same runs again, and the
registry keeps one.

>>> chain = Chain("pay", ["1-rename", "2-derive"], "/data/pay.csv", "127.0.0.1:9092",
...               "wk.predictions", "sha256:00", "predictions", attempt=1)
>>> events = chain.events("COMPLETE", started_ms=1_700_000_000_000, ended_ms=1_700_000_001_000)
>>> [(e["eventType"], e["job"]["name"]) for e in events][:2]
[('START', 'ingest.pay.1-rename'), ('COMPLETE', 'ingest.pay.1-rename')]
>>> [(d["namespace"], d["name"]) for d in events[-1]["inputs"] + events[-1]["outputs"]]
[('ingest', 'pay.1-rename'), ('kafka://127.0.0.1:9092', 'wk.predictions')]
>>> from services.registry.lineage.openlineage import check_event
>>> {check_event(e) for e in events}
{'RunEvent'}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JOB_NAMESPACE = "watchkeeper-ingest"
STEP_NAMESPACE = "ingest"
FILE_NAMESPACE = "file"
PRODUCER = "urn:watchkeeper:ingest"


@dataclass(frozen=True)
class Chain:
    source: str
    steps: list[str]
    path: str  # absolute
    broker: str  # the first bootstrap server, host:port
    topic: str  # the full topic name
    digest: str
    target: str
    attempt: int

    def job_names(self) -> list[str]:
        return [f"ingest.{self.source}.{s}" for s in (self.steps or ["load"])]

    def datasets(self) -> list[tuple[str, str]]:
        """The datasets along the chain, the file first and the topic last."""
        middle = [(STEP_NAMESPACE, f"{self.source}.{s}") for s in self.steps[:-1]]
        return [(FILE_NAMESPACE, self.path), *middle, (f"kafka://{self.broker}", self.topic)]

    def events(self, outcome: str, started_ms: int, ended_ms: int) -> list[dict[str, Any]]:
        """START and ``outcome`` (COMPLETE or FAIL) of every job, in chain order."""
        from services.registry.lineage.openlineage import run_event

        datasets = self.datasets()
        found = []
        for i, job in enumerate(self.job_names()):
            run = f"ingest:{self.digest}:{self.target}:{self.attempt}:{job}"
            for kind, when in (("START", started_ms), (outcome, ended_ms)):
                found.append(
                    run_event(
                        (JOB_NAMESPACE, job),
                        [datasets[i]],
                        [datasets[i + 1]],
                        run,
                        kind,
                        when,
                        producer=PRODUCER,
                    )
                )
        return found
