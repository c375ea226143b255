"""slo wiring: predictions and telemetry in; windows and alerts out, on the batch engine."""

from __future__ import annotations

import sys

from watchkeeper.codec import Codec
from watchkeeper.runtime.batch import BatchService
from watchkeeper.yamlconf import ConfigFileError

from .config import SloConfig
from .rules import RuleSet, load
from .task import SloTask

INPUTS = {"predictions": "PredictionEvent", "telemetry": "TelemetryEvent"}
STATE_TOPIC = "slo-state"


def build(config: SloConfig, rules: RuleSet) -> BatchService:
    codec = Codec()
    return BatchService(
        config.service,
        INPUTS,
        lambda partition: SloTask(partition, config, rules, codec),
        state_topic=STATE_TOPIC,
        codec=codec,
    )


def main() -> int:
    config = SloConfig.from_env()
    try:
        rules = load(config.rules_path, config.window_ms)
    except ConfigFileError as exc:
        # A bad rule file stops start-up with the file, the line and the reason.
        print(f"slo: bad rule file: {exc}", file=sys.stderr)
        return 2
    return build(config, rules).run()
