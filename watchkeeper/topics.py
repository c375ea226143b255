"""Topics as code: one declarative list (``TOPICS``), applied idempotently by
``watchkeeper.topic_admin`` (with the AdminClient; this module imports no Kafka client, so
specs and the command line can read the declarations cheaply).

>>> [t.name for t in TOPICS][:3]
['predictions', 'telemetry', 'feedback']
>>> TopicSpec("notification-log", partitions=1, compacted=True).configs()
{'cleanup.policy': 'compact'}
>>> spec("predictions").configs()["compression.type"]
'zstd'
>>> full_name("predictions", prefix="team-a.")
'team-a.predictions'
"""

from __future__ import annotations

from dataclasses import dataclass

from .settings import topic_prefix

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its logical name (without prefix), size, retention and what it carries."""

    name: str
    partitions: int
    retention_ms: int | None = None  # None: the broker's default; -1: keep forever
    compacted: bool = False  # a state log: the newest record per key is what counts
    schema: str | None = None  # the Avro record type its values carry
    doc: str = ""
    compression: str | None = None  # compression.type; None: the broker's (producer's)

    def configs(self) -> dict[str, str]:
        configs: dict[str, str] = {}
        if self.compacted:
            # A state log with a finite retention also forgets keys not updated for that long.
            timed = self.retention_ms is not None and self.retention_ms >= 0
            configs["cleanup.policy"] = "compact,delete" if timed else "compact"
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        if self.compression is not None:
            configs["compression.type"] = self.compression
        return configs


# Predictions, telemetry and feedback carry the same key (the model name) and the same
# partition count: a prediction, its host's telemetry and its late label meet in one
# consumer without a repartition, and a service's state topic mirrors their partitions.
INPUT_PARTITIONS = 6
# The hot tier of the data topics: the broker keeps their logs zstd-compressed whatever the
# producer sent (the bytes per event of each tier are measured in docs/services/archive.md).
HOT_COMPRESSION = "zstd"

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        "predictions",
        INPUT_PARTITIONS,
        7 * DAY_MS,
        schema="PredictionEvent",
        doc="One event per prediction served.",
        compression=HOT_COMPRESSION,
    ),
    TopicSpec(
        "telemetry",
        INPUT_PARTITIONS,
        3 * DAY_MS,
        schema="TelemetryEvent",
        doc="Resource usage per host/pod and model.",
        compression=HOT_COMPRESSION,
    ),
    TopicSpec(
        "feedback",
        INPUT_PARTITIONS,
        30 * DAY_MS,
        schema="FeedbackEvent",
        doc="Ground truth for earlier predictions, minutes to days later.",
        compression=HOT_COMPRESSION,
    ),
    TopicSpec(
        "alerts",
        3,
        # Compacted, not deleted: an alert firing for longer than any retention must still
        # be there when the router rebuilds its state after a restart.
        -1,
        compacted=True,
        schema="Alert",
        doc="Alert state changes, keyed by fingerprint. Compaction keeps each alert's latest "
        "state, so a reader can rebuild every open alert by reading from the start.",
    ),
    TopicSpec(
        "retrain-requests",
        1,
        90 * DAY_MS,
        schema="RetrainRequest",
        doc="Requests to retrain a model version, with evidence and a dedup key.",
    ),
    TopicSpec(
        "windows",
        3,
        7 * DAY_MS,
        schema="WindowAggregate",
        doc="Per-window aggregates: counts, latency quantiles, errors, cost.",
    ),
    TopicSpec(
        "dlq",
        1,
        30 * DAY_MS,
        doc="Messages a service could not decode or validate; the reason is in headers.",
    ),
    TopicSpec(
        "drift-reports",
        3,
        7 * DAY_MS,
        schema="DriftReport",
        doc="One drift evaluation per model version (or segment) and window.",
    ),
    TopicSpec(
        "drift-references",
        1,
        -1,
        compacted=True,
        doc="Reference profiles per model version (JSON), read whole by every drift worker.",
    ),
    TopicSpec(
        "quality-reports",
        3,
        7 * DAY_MS,
        schema="QualityReport",
        doc="One data-quality evaluation per model and closed window (services/quality).",
    ),
    TopicSpec(
        "gates",
        1,
        # Compacted and kept: a pipeline asking whether it may run needs the latest state
        # of its gate however long ago it changed.
        -1,
        compacted=True,
        schema="GateState",
        doc="Quality gates, keyed by gate name: blocked or unblocked, and why.",
    ),
    TopicSpec(
        "fairness-reports",
        3,
        7 * DAY_MS,
        schema="FairnessReport",
        doc="Fairness per model version, protected attribute and closed window.",
    ),
    TopicSpec(
        "cost-spend",
        INPUT_PARTITIONS,
        7 * DAY_MS,
        schema="CostSpend",
        doc="Spend per scope and window, priced by cost workers; cost sums it per scope "
        "(keyed by scope, so one worker owns each budget however many models feed it).",
    ),
    TopicSpec(
        "cost-aggregates",
        3,
        # Compacted: the newest running total per scope and period is the figure; old
        # windows and days are deleted after 40 days.
        40 * DAY_MS,
        compacted=True,
        schema="CostAggregate",
        doc="Spend per scope per window, day and month, with the month-over-month trend.",
    ),
    TopicSpec(
        "cost-advice",
        1,
        30 * DAY_MS,
        schema="CostAdvice",
        doc="Savings the stream shows: scale to zero, batch, result cache, cheaper version.",
    ),
    TopicSpec(
        "cost-quotas",
        1,
        -1,
        compacted=True,
        schema="QuotaState",
        doc="Budget hard caps for inference gateways: EXCEEDED or OK per budget instance.",
    ),
    TopicSpec(
        "cluster-active",
        1,
        -1,
        compacted=True,
        doc="Which cluster the services run on (JSON markers keyed by cluster): written on "
        "the cluster they fail over to, read at start-up on every one (watchkeeper.clusters).",
    ),
    # State logs, each written by one service only.
    TopicSpec(
        "slo-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="slo's window state: its changelog, one partition per input partition.",
    ),
    TopicSpec(
        "drift-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="drift's changelog: pending predictions, verdicts, performance windows.",
    ),
    TopicSpec(
        "quality-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="quality's changelog: open windows, gate and silence states, recent event ids.",
    ),
    TopicSpec(
        "fairness-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="fairness's changelog: open windows, alert states, predictions awaiting labels.",
    ),
    TopicSpec(
        "cost-state",
        INPUT_PARTITIONS,
        compacted=True,
        doc="cost's changelog: fleets, advice days, scope totals and budget states.",
    ),
    TopicSpec(
        "notification-log",
        1,
        compacted=True,
        doc="router's notification log: what was delivered to which receiver, per group.",
    ),
    TopicSpec(
        "silences",
        1,
        compacted=True,
        doc="router's silences (JSON, key: silence id); expired ones are tombstoned later.",
    ),
    TopicSpec(
        "escalations",
        1,
        compacted=True,
        doc="router's open escalations (JSON, key: group key): the stage reached, acks.",
    ),
    TopicSpec(
        "registry-history",
        1,
        -1,
        doc="registry's events (JSON, key: entity id), kept forever: the history a restart "
        "replays and every entity's audit trail.",
    ),
    TopicSpec(
        "registry-state",
        1,
        compacted=True,
        doc="registry's entities (JSON, key: entity id): models with their aliases, "
        "versions, datasets, lineage jobs, prediction streams.",
    ),
    TopicSpec(
        "lineage",
        3,
        7 * DAY_MS,
        doc="OpenLineage run events (JSON, OpenLineage's Kafka transport), read by registry.",
    ),
    TopicSpec(
        "rollout-history",
        1,
        -1,
        doc="rollout's events (JSON, key: entity id), kept forever: the history a restart "
        "replays, every step, verdict and manual act with who and why.",
    ),
    TopicSpec(
        "rollout-state",
        1,
        compacted=True,
        doc="rollout's entities (JSON, key: entity id): rollouts with their step and "
        "timeline, and the routing of each model.",
    ),
    TopicSpec(
        "routing",
        1,
        compacted=True,
        doc="the live traffic split per model (JSON, key: model; tombstone: no split), "
        "written by rollout, read by every SDK's emitter.assign.",
    ),
    TopicSpec(
        "retrain-history",
        1,
        -1,
        doc="retrain's events (JSON, key: entity id), kept forever: every trigger and every "
        "step of every run, with who and why.",
    ),
    TopicSpec(
        "retrain-state",
        1,
        compacted=True,
        doc="retrain's entities (JSON, key: entity id): runs with their timelines, and "
        "each model's waiting triggers.",
    ),
    TopicSpec(
        "replay-state",
        1,
        compacted=True,
        doc="watchkeeper replay's checkpoints (JSON, key: the replay's id): the last offset "
        "replayed per partition, committed in the same transaction as the records it covers.",
    ),
    TopicSpec(
        "incidents",
        1,
        compacted=True,
        doc="router's incidents (JSON, key: incident id), with their timelines.",
    ),
    TopicSpec(
        "ingest-state",
        1,
        compacted=True,
        doc="watchkeeper ingest's checkpoints (JSON, key: file sha256:target): rows done, bad "
        "rows, status, committed in the same transaction as the rows they count.",
    ),
    TopicSpec(
        "human-review",
        3,
        30 * DAY_MS,
        compacted=True,
        doc="review requests of guarded calls that fell back to a human (JSON, key: "
        "review_id; the newest record says pending or answered), from watchkeeper.continuity.",
    ),
)


def full_name(name: str, prefix: str | None = None) -> str:
    return (topic_prefix() if prefix is None else prefix) + name


def spec(name: str) -> TopicSpec:
    for topic in TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"no topic {name!r} in watchkeeper.topics.TOPICS")
