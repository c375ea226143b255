"""quality wiring: predictions in; quality reports, gate states and alerts out, on the batch
engine; the gate view and its HTTP endpoint beside it."""

from __future__ import annotations

import sys

from watchkeeper.codec import Codec
from watchkeeper.runtime.batch import BatchService
from watchkeeper.settings import ConfigError
from watchkeeper.yamlconf import ConfigFileError

from .config import QualityConfig
from .contract import ContractSet, load
from .gateview import GateHTTP, GateView
from .task import QualityTask

INPUTS = {"predictions": "PredictionEvent"}
STATE_TOPIC = "quality-state"


class QualityService(BatchService):
    """The batch engine, plus the gate view and ``GET /gate/<name>``.

    The runtime's HTTP server only knows /metrics and /healthz, so the gate endpoint has a
    port of its own (``WK_QUALITY_GATE_PORT``).
    """

    def __init__(self, config: QualityConfig, contracts: ContractSet) -> None:
        codec = Codec()
        super().__init__(
            config.service,
            INPUTS,
            lambda partition: QualityTask(partition, config, contracts, codec),
            state_topic=STATE_TOPIC,
            codec=codec,
        )
        self.config = config
        self.view = GateView(config.service.kafka, config.service.topic("gates"), codec)
        self.health.add_check(self.view.problem)
        self.gate_http: GateHTTP | None = None

    def apply_topics(self) -> None:
        super().apply_topics()
        self.view.start(timeout=60)
        self.gate_http = GateHTTP(self.view, self.config.gate_host, self.config.gate_port).start()

    def run(self) -> int:
        try:
            return super().run()
        finally:
            self.view.stop()
            if self.gate_http is not None:
                self.gate_http.stop()


def main() -> int:
    try:
        config = QualityConfig.from_env()
        contracts = load(config.contracts_path)
    except (ConfigFileError, ConfigError) as exc:
        # A bad contract file stops start-up with the file, the line and the reason.
        print(f"quality: bad configuration: {exc}", file=sys.stderr)
        return 2
    return QualityService(config, contracts).run()
