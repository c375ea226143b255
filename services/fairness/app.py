"""fairness wiring: predictions and feedback in (co-partitioned by model); fairness reports
and alerts out, on the batch engine."""

from __future__ import annotations

import sys

from watchkeeper.codec import Codec
from watchkeeper.runtime.batch import BatchService
from watchkeeper.settings import ConfigError
from watchkeeper.yamlconf import ConfigFileError

from .config import FairnessConfig
from .task import FairnessTask

INPUTS = {"predictions": "PredictionEvent", "feedback": "FeedbackEvent"}
STATE_TOPIC = "fairness-state"


def build(config: FairnessConfig) -> BatchService:
    codec = Codec()
    return BatchService(
        config.service,
        INPUTS,
        lambda partition: FairnessTask(partition, config, codec),
        state_topic=STATE_TOPIC,
        codec=codec,
    )


def main() -> int:
    try:
        config = FairnessConfig.from_env()
    except (ConfigFileError, ConfigError) as exc:
        # A bad settings file stops start-up with the file, the line and the reason.
        print(f"fairness: bad configuration: {exc}", file=sys.stderr)
        return 2
    return build(config).run()
