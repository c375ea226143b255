"""registry, declared: a control-plane service (its own asyncio loop) whose state is its
events on ``registry-history`` (replayed at start) and ``registry-state`` (compacted)."""

from __future__ import annotations

from watchkeeper.kit import ServiceSpec, Setting

from .config import DEFAULT_POLICY, NAME, RegistryConfig, load_policy


def serve(config: RegistryConfig) -> int:
    from .app import serve as serve_registry  # the Kafka side, imported only to run

    return serve_registry(config)


SPEC = ServiceSpec(
    name=NAME,
    summary="registered models, versions, datasets and gated aliases with their history; "
    "lineage from sources to live prediction streams, impact analysis; OpenLineage, MLflow",
    inputs=("lineage", "predictions"),
    outputs=("registry-history", "registry-state", "dlq"),
    config=RegistryConfig.from_env,
    engine="own",
    serve=serve,
    check_file=load_policy,
    config_file=Setting("WK_REGISTRY_POLICY", f"deploy/{DEFAULT_POLICY.name}", "the alias policy"),
    settings=(
        Setting(
            "WK_REGISTRY_API_TOKENS[_FILE]",
            "none: the API refuses all",
            "'<name> <read|write|admin> <token>; ...' (or a file holding it)",
        ),
        Setting("WK_REGISTRY_MAX_BODY_BYTES", "1048576", "larger bodies get 413"),
        Setting("WK_REGISTRY_BATCH_MAX", "500", "commands per transaction at most"),
    ),
    doc="docs/services/registry.md",
)
