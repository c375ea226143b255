"""retrain settings: the environment (``WK_RETRAIN_*``) and the policy file
(``WK_RETRAIN_POLICY``, default ``deploy/retrain.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper._paths import REPO_ROOT
from watchkeeper.auth import TokenTable
from watchkeeper.kit import permodel
from watchkeeper.settings import ServiceSettings, env_float, env_int, env_str, secret

from .policy import RetrainPolicy, load_policy

NAME = "retrain"
DEFAULT_HTTP_PORT = 8110
DEFAULT_POLICY = REPO_ROOT / "deploy" / "retrain.yaml"


@dataclass(frozen=True)
class RetrainConfig:
    service: ServiceSettings
    policy: permodel.PerModel[RetrainPolicy]
    tokens: TokenTable
    callback_secret: str
    public_url: str  # how pipelines reach this service's callback endpoint
    state_dir: str  # the local launcher's run folders (logs, pids, exit codes)
    registry_url: str
    registry_token: str
    rollout_url: str
    rollout_token: str
    max_body: int = 1 << 20
    tick_s: float = 1.0
    new_data_poll_s: float = 30.0

    @classmethod
    def from_env(cls) -> RetrainConfig:
        service = ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT)
        return cls(
            service=service,
            policy=load_policy(env_str("WK_RETRAIN_POLICY") or str(DEFAULT_POLICY)),
            tokens=TokenTable.parse(secret("WK_RETRAIN_API_TOKENS") or "", "WK_RETRAIN_API_TOKENS"),
            callback_secret=secret("WK_RETRAIN_CALLBACK_SECRET") or "",
            public_url=env_str("WK_RETRAIN_PUBLIC_URL") or f"http://127.0.0.1:{service.http_port}",
            state_dir=env_str("WK_RETRAIN_STATE_DIR") or str(REPO_ROOT / ".cache" / "retrain"),
            registry_url=env_str("WK_RETRAIN_REGISTRY_URL") or "",
            registry_token=secret("WK_RETRAIN_REGISTRY_TOKEN") or "",
            rollout_url=env_str("WK_RETRAIN_ROLLOUT_URL") or "",
            rollout_token=secret("WK_RETRAIN_ROLLOUT_TOKEN") or "",
            max_body=env_int("WK_RETRAIN_MAX_BODY_BYTES", 1 << 20),
            tick_s=max(0.05, env_float("WK_RETRAIN_TICK_S", 1.0)),
            new_data_poll_s=max(0.1, env_float("WK_RETRAIN_NEW_DATA_POLL_S", 30.0)),
        )
