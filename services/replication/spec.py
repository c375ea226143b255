"""replication, declared: polls clusters a and b; lag metrics and alerts out (own loop)."""

from __future__ import annotations

from watchkeeper.kit import ServiceSpec, Setting

from .config import DEFAULT_TARGET, NAME, ReplicationConfig


def serve(config: ReplicationConfig) -> int:
    from .app import serve as serve_replication  # the Kafka side, imported only to run

    return serve_replication(config)


SPEC = ServiceSpec(
    name=NAME,
    summary="how far MirrorMaker 2's target (b) is behind a, per topic and partition: "
    "lag metrics, ReplicationLagging and ReplicationDown alerts",
    inputs=(),
    outputs=("alerts",),
    config=ReplicationConfig.from_env,
    engine="own",
    serve=serve,
    settings=(
        Setting("WK_REPLICATION_TARGET", DEFAULT_TARGET, "cluster b's bootstrap servers"),
        Setting("WK_REPLICATION_TARGET_NAME", "b", "its name in the alerts' labels"),
        Setting("WK_REPLICATION_POLL_S", "5", "how often both clusters are asked"),
        Setting("WK_REPLICATION_LAG_THRESHOLD_S", "30", "lag (s) above which a topic breaches"),
        Setting("WK_REPLICATION_LAG_FOR_S", "60", "breaching this long fires the alert"),
        Setting("WK_REPLICATION_RESOLVE_AFTER", "2", "clear polls in a row that resolve it"),
        Setting("WK_REPLICATION_DOWN_AFTER_S", "15", "b unreachable this long: ReplicationDown"),
        Setting("WK_REPLICATION_TIMEOUT_S", "5", "each request to a cluster"),
    ),
    doc="docs/services/replication.md",
    surface="Prometheus lag per partition (wk_replication_lag_seconds)",
)
