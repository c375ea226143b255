"""rollout, declared: a control-plane service (its own asyncio loop) whose state is its
events on ``rollout-history`` (replayed at start) and ``rollout-state`` (compacted); it
writes each model's live split to ``routing`` and its rollbacks to ``alerts``."""

from __future__ import annotations

from watchkeeper.kit import ServiceSpec, Setting

from .config import NAME, RolloutConfig


def serve(config: RolloutConfig) -> int:
    from .app import serve as serve_rollout  # the Kafka side, imported only to run

    return serve_rollout(config)


SPEC = ServiceSpec(
    name=NAME,
    summary="canary, blue-green, A/B and shadow rollouts decided on the streams with "
    "always-valid statistics; the live traffic split per model for every SDK",
    inputs=("predictions", "feedback"),
    outputs=("rollout-history", "rollout-state", "routing", "alerts", "dlq"),
    config=RolloutConfig.from_env,
    engine="own",
    serve=serve,
    settings=(
        Setting(
            "WK_ROLLOUT_API_TOKENS[_FILE]",
            "none: the API refuses all",
            "'<name> <read|write|admin> <token>; ...' (or a file holding it)",
        ),
        Setting("WK_ROLLOUT_REGISTRY_URL", "none: promotions move no alias", "the registry"),
        Setting("WK_ROLLOUT_REGISTRY_TOKEN[_FILE]", "none", "a registry token (write)"),
        Setting("WK_ROLLOUT_HOOK_SECRET[_FILE]", "none: hooks unsigned", "signs hook bodies"),
        Setting("WK_ROLLOUT_MAX_BODY_BYTES", "1048576", "larger bodies get 413"),
        Setting("WK_ROLLOUT_BATCH_MAX", "500", "commands per transaction at most"),
        Setting("WK_ROLLOUT_TICK_S", "1.0", "how often the analysis decides"),
    ),
    doc="docs/services/rollout.md",
)
