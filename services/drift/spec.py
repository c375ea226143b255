"""drift, declared: predictions and feedback in (co-partitioned by model), references from
their compacted topic beside the tasks; alerts, drift reports, retrain requests out, on the
batch engine."""

from __future__ import annotations

from watchkeeper.kit import Parts, ServiceSpec, Setting

from .config import NAME, DriftConfig, load_settings


def build(config: DriftConfig, codec) -> Parts:
    # Here, not at the top: the statistics bring scipy and river (seconds of imports)
    # that --help and --check-config do not need.
    from .profile import TOPIC
    from .reference_store import ReferenceStore
    from .task import DriftTask

    # One store for every task: the engine starts it (reads the topic to its end) after
    # the topics exist and before it subscribes, so no task sees an event before it.
    store = ReferenceStore(config.service.kafka, config.service.topic(TOPIC))
    return Parts(
        tasks=lambda partition: DriftTask(partition, config, store, codec),
        beside=[store],
    )


def check(path: str) -> None:
    load_settings(path)


SPEC = ServiceSpec(
    name=NAME,
    summary="data, prediction and concept drift and performance from delayed labels, per "
    "model version against its reference; alerts, drift reports and retrain requests",
    inputs=("predictions", "feedback"),
    outputs=("alerts", "drift-reports", "retrain-requests", "drift-references"),
    config=DriftConfig.from_env,
    build=build,
    state_topic="drift-state",
    check_file=check,
    config_file=Setting("WK_DRIFT_CONFIG", "none", "defaults and per-model settings (YAML)"),
    settings=(
        Setting("WK_DRIFT_LABEL_HORIZON", "7d", "how long a prediction waits for its label"),
        Setting("WK_DRIFT_MAX_PENDING", "500000", "predictions waiting per partition"),
        Setting("WK_DRIFT_MAX_METRIC_SERIES", "2000", "per-feature metric series, at most"),
    ),
    doc="docs/services/drift.md",
    surface="reads drift-references beside its tasks; `reference` subcommand",
)
