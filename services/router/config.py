"""router settings from the environment (the routing itself is in the YAML file).

==================================== ========================= ==========================
variable                             default                   meaning
==================================== ========================= ==========================
``WK_ROUTER_CONFIG``                 ``deploy/router.yaml``    the routing file
``WK_HTTP_PORT``                     8103                      /metrics and /healthz
``WK_ROUTER_EXTERNAL_URL``           (empty)                   ``externalURL`` in payloads
``WK_ROUTER_RETRY_MAX_ATTEMPTS``     8                         per notification
``WK_ROUTER_RETRY_MAX_ELAPSED_S``    120                       per notification
``WK_ROUTER_RETRY_BASE_S``           0.5                       first backoff ceiling
``WK_ROUTER_RETRY_MAX_BACKOFF_S``    30                        backoff ceiling
``WK_ROUTER_RETRY_AFTER_MAX_S``      60                        cap on ``Retry-After``
``WK_ROUTER_MAX_IN_FLIGHT``          32                        requests per integration
``WK_ROUTER_SHUTDOWN_TIMEOUT_S``     10                        finish sends on SIGTERM
``WK_STARTUP_TIMEOUT_S``             60                        wait for Kafka at start
==================================== ========================= ==========================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchkeeper.runtime import ServiceSettings
from watchkeeper.settings import ConfigError, env_float, env_int, env_str

from .retry import RetryPolicy

NAME = "router"
DEFAULT_HTTP_PORT = 8103
DEFAULT_CONFIG = "deploy/router.yaml"


@dataclass(frozen=True)
class RouterConfig:
    service: ServiceSettings
    config_path: str = DEFAULT_CONFIG
    external_url: str = ""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_in_flight: int = 32
    shutdown_timeout_s: float = 10.0
    startup_timeout_s: float = 60.0

    @classmethod
    def from_env(cls) -> RouterConfig:
        retry = RetryPolicy(
            max_attempts=env_int("WK_ROUTER_RETRY_MAX_ATTEMPTS", 8),
            max_elapsed_s=env_float("WK_ROUTER_RETRY_MAX_ELAPSED_S", 120.0),
            base_s=env_float("WK_ROUTER_RETRY_BASE_S", 0.5),
            max_backoff_s=env_float("WK_ROUTER_RETRY_MAX_BACKOFF_S", 30.0),
            max_retry_after_s=env_float("WK_ROUTER_RETRY_AFTER_MAX_S", 60.0),
        )
        if retry.max_attempts < 1:
            raise ConfigError("WK_ROUTER_RETRY_MAX_ATTEMPTS must be at least 1")
        max_in_flight = env_int("WK_ROUTER_MAX_IN_FLIGHT", 32)
        if max_in_flight < 1:
            raise ConfigError("WK_ROUTER_MAX_IN_FLIGHT must be at least 1")
        return cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            config_path=env_str("WK_ROUTER_CONFIG", DEFAULT_CONFIG) or DEFAULT_CONFIG,
            external_url=env_str("WK_ROUTER_EXTERNAL_URL", "") or "",
            retry=retry,
            max_in_flight=max_in_flight,
            shutdown_timeout_s=env_float("WK_ROUTER_SHUTDOWN_TIMEOUT_S", 10.0),
            startup_timeout_s=env_float("WK_STARTUP_TIMEOUT_S", 60.0),
        )
