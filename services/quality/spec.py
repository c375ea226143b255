"""quality, declared: predictions in; quality reports, gate states and alerts out, on the
batch engine; the gate view beside the tasks and ``/gate/<name>`` on the one HTTP server."""

from __future__ import annotations

from watchkeeper.kit import Parts, ServiceSpec, Setting

from .config import DEFAULT_CONTRACTS, NAME, QualityConfig
from .contract import load
from .gateroutes import routes
from .task import QualityTask


def build(config: QualityConfig, codec) -> Parts:
    from .gateview import GateView  # reads Kafka: not imported for --help or --check-config

    contracts = load(config.contracts_path)
    view = GateView(config.service.kafka, config.service.topic("gates"), codec)
    return Parts(
        tasks=lambda partition: QualityTask(partition, config, contracts, codec),
        beside=[view],
        routes=routes(view),
    )


SPEC = ServiceSpec(
    name=NAME,
    summary="data contracts on the prediction stream (completeness, accuracy, consistency, "
    "freshness, silence) per model and window, and a gate per dataset at /gate/<name>",
    inputs=("predictions",),
    outputs=("quality-reports", "gates", "alerts"),
    config=QualityConfig.from_env,
    build=build,
    state_topic="quality-state",
    check_file=load,
    config_file=Setting("WK_QUALITY_CONTRACTS", str(DEFAULT_CONTRACTS.name), "the contracts"),
    settings=(
        Setting("WK_QUALITY_GRACE_S", "5", "how late an event may be and still count"),
        Setting("WK_QUALITY_IDLE_S", "10", "quiet this long: stream time follows the wall clock"),
        Setting("WK_QUALITY_MAX_FUTURE_S", "60", "events further ahead are inconsistent"),
        Setting("WK_QUALITY_DUPLICATE_WINDOW", "10m", "stream time an event id is remembered"),
        Setting("WK_QUALITY_MAX_IDS", "200000", "event ids remembered per partition"),
        Setting("WK_QUALITY_MAX_MODELS", "1000", "per partition; further models are counted"),
        Setting("WK_QUALITY_MAX_SOURCES", "100", "per model"),
        Setting("WK_QUALITY_SOURCE_FORGET", "24h", "a source silent this long is forgotten"),
    ),
    doc="docs/services/quality.md",
    surface="GET and POST /gate/<name>, GET /gates (pipeline and rollout gates)",
)
