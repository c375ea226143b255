"""cost, declared: predictions, telemetry and its own spend records in; spend, aggregates,
quotas, advice and alerts out, on the batch engine."""

from __future__ import annotations

from watchkeeper.kit import Parts, ServiceSpec, Setting

from .config import DEFAULT_FILE, NAME, CostConfig
from .costfile import load
from .spend import SPEND_TOPIC
from .task import CostTask


def build(config: CostConfig, codec) -> Parts:
    costfile = load(config.file_path, config.timezone)
    return Parts(tasks=lambda partition: CostTask(partition, config, costfile, codec))


def check(path: str) -> None:
    load(path, CostConfig.from_env().timezone)


SPEC = ServiceSpec(
    name=NAME,
    summary="prices every inference, sums spend per scope by window, day and month; "
    "budgets, quotas and savings advice",
    # cost-spend is an input too: the ledger of partition p sums the spend records keyed to p.
    inputs=("predictions", "telemetry", SPEND_TOPIC),
    outputs=(SPEND_TOPIC, "cost-aggregates", "cost-quotas", "cost-advice", "alerts"),
    config=CostConfig.from_env,
    build=build,
    state_topic="cost-state",
    check_file=check,
    config_file=Setting("WK_COST_CONFIG", f"deploy/{DEFAULT_FILE.name}", "the cost file"),
    settings=(
        Setting("WK_COST_TIMEZONE", "the file's (UTC)", "days and months of totals and budgets"),
        Setting("WK_COST_WINDOW_S", "60", "window of spend records and aggregates; divides 900"),
        Setting("WK_COST_GRACE_S", "60", "a quiet budget moves on this long after its period"),
        Setting("WK_COST_IDLE_S", "30", "quiet this long: event time follows the wall clock"),
        Setting("WK_COST_MAX_FUTURE_S", "60", "events further ahead are dead-lettered"),
        Setting("WK_COST_PUBLISH_INTERVAL_S", "5", "aggregates are republished at most this often"),
        Setting("WK_COST_TELEMETRY_TTL_S", "300", "a host silent this long leaves its fleet"),
        Setting("WK_COST_UNPRICED_GRACE_S", "60", "unpriced for lack of telemetry before alerting"),
        Setting("WK_COST_MAX_SCOPES", "10000", "scopes a ledger holds; budgets' always are"),
    ),
    doc="docs/services/cost.md",
)
