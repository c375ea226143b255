"""retrain, declared: a control-plane service (its own asyncio loop) whose state is its
events on ``retrain-history`` (replayed at start) and ``retrain-state`` (compacted)."""

from __future__ import annotations

from watchkeeper.kit import ServiceSpec, Setting

from .config import DEFAULT_POLICY, NAME, RetrainConfig
from .policy import load_policy


def serve(config: RetrainConfig) -> int:
    from .app import serve as serve_retrain  # the Kafka side, imported only to run

    return serve_retrain(config)


SPEC = ServiceSpec(
    name=NAME,
    summary="the retraining loop: triggers (drift, performance, schedules, new data, a "
    "person) gated into runs, launched, validated, approved, rolled out, with timelines",
    inputs=("retrain-requests",),
    outputs=("retrain-history", "retrain-state", "alerts", "dlq"),
    config=RetrainConfig.from_env,
    engine="own",
    serve=serve,
    check_file=load_policy,
    config_file=Setting("WK_RETRAIN_POLICY", f"deploy/{DEFAULT_POLICY.name}", "the policy"),
    settings=(
        Setting(
            "WK_RETRAIN_API_TOKENS[_FILE]",
            "none: the API refuses all",
            "'<name> <read|write|admin> <token>; ...' (or a file holding it)",
        ),
        Setting("WK_RETRAIN_CALLBACK_SECRET[_FILE]", "none", "signs each run's callback token"),
        Setting("WK_RETRAIN_PUBLIC_URL", "http://127.0.0.1:<port>", "what pipelines call back"),
        Setting("WK_RETRAIN_STATE_DIR", ".cache/retrain", "the local launcher's run folders"),
        Setting("WK_RETRAIN_REGISTRY_URL", "none", "the registry (candidates, champion)"),
        Setting("WK_RETRAIN_REGISTRY_TOKEN[_FILE]", "none", "a registry token (write)"),
        Setting("WK_RETRAIN_ROLLOUT_URL", "none", "the rollout service (canaries)"),
        Setting("WK_RETRAIN_ROLLOUT_TOKEN[_FILE]", "none", "a rollout token (write)"),
        Setting("WK_RETRAIN_MAX_BODY_BYTES", "1048576", "larger bodies get 413"),
        Setting("WK_RETRAIN_TICK_S", "1.0", "how often triggers are gated"),
        Setting("WK_RETRAIN_NEW_DATA_POLL_S", "30", "how often the registry is asked for data"),
    ),
    doc="docs/services/retrain.md",
)
