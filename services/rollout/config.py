"""rollout settings, from the environment (``WK_ROLLOUT_*``)."""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.auth import TokenTable
from watchkeeper.settings import ServiceSettings, env_float, env_int, env_str, secret

NAME = "rollout"
DEFAULT_HTTP_PORT = 8109


@dataclass(frozen=True)
class RolloutConfig:
    service: ServiceSettings
    tokens: TokenTable
    registry_url: str  # empty: promotions move no alias (said in the rollout's timeline)
    registry_token: str
    hook_secret: str  # signs every hook's body (HMAC-SHA256); empty: unsigned
    max_body: int = 1 << 20
    batch_max: int = 500
    tick_s: float = 1.0

    @classmethod
    def from_env(cls) -> RolloutConfig:
        return cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            tokens=TokenTable.parse(secret("WK_ROLLOUT_API_TOKENS") or "", "WK_ROLLOUT_API_TOKENS"),
            registry_url=env_str("WK_ROLLOUT_REGISTRY_URL") or "",
            registry_token=secret("WK_ROLLOUT_REGISTRY_TOKEN") or "",
            hook_secret=secret("WK_ROLLOUT_HOOK_SECRET") or "",
            max_body=env_int("WK_ROLLOUT_MAX_BODY_BYTES", 1 << 20),
            batch_max=max(1, env_int("WK_ROLLOUT_BATCH_MAX", 500)),
            tick_s=max(0.05, env_float("WK_ROLLOUT_TICK_S", 1.0)),
        )
