"""fairness, declared: predictions and feedback in (co-partitioned by model); fairness
reports and alerts out, on the batch engine."""

from __future__ import annotations

from watchkeeper.kit import Parts, ServiceSpec, Setting
from watchkeeper.settings import ServiceSettings

from .config import DEFAULT_CONFIG, NAME, FairnessConfig
from .task import FairnessTask


def build(config: FairnessConfig, codec) -> Parts:
    return Parts(tasks=lambda partition: FairnessTask(partition, config, codec))


def check(path: str) -> None:
    FairnessConfig(ServiceSettings(NAME)).with_file(path)


SPEC = ServiceSpec(
    name=NAME,
    summary="selection rates and error rates per protected group of every model version, "
    "labels joined to predictions; disparate impact and parity gaps as alerts",
    inputs=("predictions", "feedback"),
    outputs=("fairness-reports", "alerts"),
    config=FairnessConfig.from_env,
    build=build,
    state_topic="fairness-state",
    check_file=check,
    config_file=Setting("WK_FAIRNESS_CONFIG", str(DEFAULT_CONFIG.name), "defaults and models"),
    settings=(
        Setting("WK_FAIRNESS_GRACE_S", "5", "how late an event may be and still count"),
        Setting("WK_FAIRNESS_IDLE_S", "10", "quiet this long: stream time follows the wall clock"),
        Setting("WK_FAIRNESS_MAX_FUTURE_S", "60", "events further ahead are dead-lettered"),
        Setting("WK_FAIRNESS_LABEL_HORIZON", "7d", "a label later than this finds nothing"),
        Setting("WK_FAIRNESS_MAX_PENDING", "500000", "predictions awaiting a label, per partition"),
        Setting("WK_FAIRNESS_MAX_SERIES", "1000", "model versions per partition"),
    ),
    doc="docs/services/fairness.md",
)
