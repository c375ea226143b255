"""cost wiring: predictions, telemetry and its own spend records in; spend, aggregates,
advice, quotas and alerts out, on the batch engine."""

from __future__ import annotations

import sys

from watchkeeper.codec import Codec
from watchkeeper.runtime.batch import BatchService
from watchkeeper.yamlconf import ConfigFileError

from .config import CostConfig
from .costfile import CostFile, load
from .task import SPEND_TOPIC, CostTask

# cost-spend is an input too: the ledger of partition p sums the spend records keyed to p.
INPUTS = {"predictions": "PredictionEvent", "telemetry": "TelemetryEvent", SPEND_TOPIC: "CostSpend"}
STATE_TOPIC = "cost-state"


def build(config: CostConfig, costfile: CostFile) -> BatchService:
    codec = Codec()
    return BatchService(
        config.service,
        INPUTS,
        lambda partition: CostTask(partition, config, costfile, codec),
        state_topic=STATE_TOPIC,
        codec=codec,
    )


def main() -> int:
    config = CostConfig.from_env()
    try:
        costfile = load(config.file_path, config.timezone)
    except ConfigFileError as exc:
        # A bad cost file stops start-up with the file, the line and the reason.
        print(f"cost: bad cost file: {exc}", file=sys.stderr)
        return 2
    return build(config, costfile).run()
