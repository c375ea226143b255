"""cost settings, from the environment (``WK_COST_*``); prices and budgets are in the cost
file (``costfile.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper._paths import REPO_ROOT
from watchkeeper.settings import ConfigError, ServiceSettings, env_float, env_int, env_str

NAME = "cost"
DEFAULT_HTTP_PORT = 8105
DEFAULT_FILE = REPO_ROOT / "deploy" / "cost.yaml"
QUARTER_HOUR_MS = 900_000


@dataclass(frozen=True)
class CostConfig:
    service: ServiceSettings
    file_path: str
    timezone: str | None = None  # overrides the file's
    window_ms: int = 60_000
    grace_ms: int = 60_000
    idle_ms: int = 30_000
    max_future_ms: int = 60_000
    publish_interval_ms: int = 5_000
    telemetry_ttl_ms: int = 300_000
    unpriced_grace_ms: int = 60_000
    max_scopes: int = 10_000

    @classmethod
    def from_env(cls) -> CostConfig:
        def ms(name: str, default_s: float) -> int:
            return int(env_float(name, default_s) * 1000)

        config = cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            file_path=env_str("WK_COST_CONFIG") or str(DEFAULT_FILE),
            timezone=env_str("WK_COST_TIMEZONE"),
            window_ms=ms("WK_COST_WINDOW_S", 60),
            grace_ms=ms("WK_COST_GRACE_S", 60),
            idle_ms=ms("WK_COST_IDLE_S", 30),
            max_future_ms=ms("WK_COST_MAX_FUTURE_S", 60),
            publish_interval_ms=ms("WK_COST_PUBLISH_INTERVAL_S", 5),
            telemetry_ttl_ms=ms("WK_COST_TELEMETRY_TTL_S", 300),
            unpriced_grace_ms=ms("WK_COST_UNPRICED_GRACE_S", 60),
            max_scopes=env_int("WK_COST_MAX_SCOPES", 10_000),
        )
        # Windows nest in days and months in every time zone (all offsets are whole
        # quarter hours), so a window's spend never straddles two periods.
        if config.window_ms < 1000 or QUARTER_HOUR_MS % config.window_ms:
            raise ConfigError(
                f"WK_COST_WINDOW_S must divide 900 (15 minutes), got {config.window_ms / 1000:g}"
            )
        return config
