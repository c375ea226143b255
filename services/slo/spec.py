"""slo, declared: predictions and telemetry in; windows and alerts out, on the batch engine."""

from __future__ import annotations

from watchkeeper.kit import Parts, ServiceSpec, Setting

from .config import DEFAULT_RULES, NAME, SloConfig
from .rules import load
from .task import SloTask


def build(config: SloConfig, codec) -> Parts:
    rules = load(config.rules_path, config.window_ms)
    return Parts(tasks=lambda partition: SloTask(partition, config, rules, codec))


def check(path: str) -> None:
    load(path, SloConfig.from_env().window_ms)


SPEC = ServiceSpec(
    name=NAME,
    summary="latency, errors, throughput and cost per model version in event-time windows; "
    "SLO rules (thresholds, baselines, burn rates) as alerts",
    inputs=("predictions", "telemetry"),
    outputs=("windows", "alerts"),
    config=SloConfig.from_env,
    build=build,
    state_topic="slo-state",
    check_file=check,
    config_file=Setting("WK_SLO_RULES", f"deploy/{DEFAULT_RULES.name}", "the rule file"),
    settings=(
        Setting("WK_SLO_WINDOW_S", "10", "window size; divides a minute or is whole minutes"),
        Setting("WK_SLO_GRACE_S", "2", "how late an event may be and still count"),
        Setting("WK_SLO_IDLE_S", "5", "quiet this long: stream time follows the wall clock"),
        Setting("WK_SLO_EVAL_INTERVAL_MS", "100", "early evaluation of open windows"),
        Setting("WK_SLO_MAX_FUTURE_S", "60", "events further ahead are dead-lettered"),
        Setting("WK_SLO_MAX_SERIES", "1000", "series beyond fold into version _other"),
    ),
    doc="docs/services/slo.md",
)
