"""slo settings, from the environment (``WK_SLO_*``) and the rule file."""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper._paths import REPO_ROOT
from watchkeeper.settings import ConfigError, ServiceSettings, env_float, env_int, env_str

NAME = "slo"
DEFAULT_HTTP_PORT = 8102
DEFAULT_RULES = REPO_ROOT / "deploy" / "slo-rules.yaml"
# Rolling views every series keeps for dashboards, whatever the rules ask for.
VIEWS_MS = (60_000, 300_000)


@dataclass(frozen=True)
class SloConfig:
    service: ServiceSettings
    rules_path: str
    window_ms: int = 10_000
    grace_ms: int = 2_000
    idle_ms: int = 5_000
    eval_interval_ms: int = 100
    max_future_ms: int = 60_000
    max_series: int = 1000

    @classmethod
    def from_env(cls) -> SloConfig:
        config = cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            rules_path=env_str("WK_SLO_RULES") or str(DEFAULT_RULES),
            window_ms=int(env_float("WK_SLO_WINDOW_S", 10.0) * 1000),
            grace_ms=int(env_float("WK_SLO_GRACE_S", 2.0) * 1000),
            idle_ms=int(env_float("WK_SLO_IDLE_S", 5.0) * 1000),
            eval_interval_ms=env_int("WK_SLO_EVAL_INTERVAL_MS", 100),
            max_future_ms=int(env_float("WK_SLO_MAX_FUTURE_S", 60.0) * 1000),
            max_series=env_int("WK_SLO_MAX_SERIES", 1000),
        )
        if config.window_ms < 1000 or (60_000 % config.window_ms and config.window_ms % 60_000):
            raise ConfigError(
                f"WK_SLO_WINDOW_S must be at least 1 and divide a minute (or be whole "
                f"minutes), got {config.window_ms / 1000}"
            )
        return config
