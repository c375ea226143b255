"""quality settings, from the environment (``WK_QUALITY_*``); contracts come from YAML."""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper._paths import REPO_ROOT
from watchkeeper.settings import ConfigError, ServiceSettings, env_float, env_int, env_str
from watchkeeper.yamlconf import parse_duration

NAME = "quality"
DEFAULT_HTTP_PORT = 8106
DEFAULT_CONTRACTS = REPO_ROOT / "deploy" / "quality.yaml"


def _duration_ms(name: str, default: str) -> int:
    text = env_str(name) or default
    try:
        return int(parse_duration(text) * 1000)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class QualityConfig:
    service: ServiceSettings
    contracts_path: str = str(DEFAULT_CONTRACTS)
    grace_ms: int = 5_000
    idle_ms: int = 10_000
    max_future_ms: int = 60_000
    max_models: int = 1000
    max_sources: int = 100
    duplicate_window_ms: int = 600_000
    max_ids: int = 200_000
    source_forget_ms: int = 86_400_000
    silence_check_ms: int = 1_000

    @classmethod
    def from_env(cls) -> QualityConfig:
        service = ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT)
        config = cls(
            service=service,
            contracts_path=env_str("WK_QUALITY_CONTRACTS") or str(DEFAULT_CONTRACTS),
            grace_ms=int(env_float("WK_QUALITY_GRACE_S", 5.0) * 1000),
            idle_ms=int(env_float("WK_QUALITY_IDLE_S", 10.0) * 1000),
            max_future_ms=int(env_float("WK_QUALITY_MAX_FUTURE_S", 60.0) * 1000),
            max_models=env_int("WK_QUALITY_MAX_MODELS", 1000),
            max_sources=env_int("WK_QUALITY_MAX_SOURCES", 100),
            duplicate_window_ms=_duration_ms("WK_QUALITY_DUPLICATE_WINDOW", "10m"),
            max_ids=env_int("WK_QUALITY_MAX_IDS", 200_000),
            source_forget_ms=_duration_ms("WK_QUALITY_SOURCE_FORGET", "24h"),
        )
        if config.max_ids < 2 or config.max_models < 1 or config.max_sources < 0:
            raise ConfigError(
                "WK_QUALITY_MAX_IDS must be >= 2, WK_QUALITY_MAX_MODELS >= 1, "
                "WK_QUALITY_MAX_SOURCES >= 0"
            )
        return config
