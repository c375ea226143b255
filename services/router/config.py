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
``WK_ROUTER_API_HOST``               127.0.0.1                 the HTTP API's address
``WK_ROUTER_API_PORT``               9103                      the HTTP API (0: any free)
``WK_ROUTER_API_MAX_BODY_BYTES``     1048576                   larger bodies get 413
``WK_ROUTER_API_TOKENS[_FILE]``      (none: API refuses all)   ``name scopes token; ...``
``WK_ROUTER_ACK_LINK_SECRET[_FILE]`` (none: no ack links)      signs acknowledge links
``WK_ROUTER_SILENCE_RETENTION_S``    432000 (5 days)           keep expired silences
==================================== ========================= ==========================

``WK_ROUTER_EXTERNAL_URL`` is also where acknowledge links point: the API's public URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchkeeper.settings import ConfigError, ServiceSettings, env_float, env_int, env_str, secret

from .auth import AckLinks, TokenTable, parse_tokens
from .retry import RetryPolicy
from .silences import DEFAULT_RETENTION_S

NAME = "router"
DEFAULT_HTTP_PORT = 8103
DEFAULT_CONFIG = "deploy/router.yaml"
DEFAULT_API_PORT = 9103
MIN_LINK_SECRET = 16


@dataclass(frozen=True)
class RouterConfig:
    service: ServiceSettings
    config_path: str = DEFAULT_CONFIG
    external_url: str = ""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_in_flight: int = 32
    shutdown_timeout_s: float = 10.0
    startup_timeout_s: float = 60.0
    api_host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    api_max_body_bytes: int = 1 << 20
    api_tokens: TokenTable = field(default_factory=TokenTable)
    ack_links: AckLinks | None = None
    silence_retention_s: float = DEFAULT_RETENTION_S

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
        max_body = env_int("WK_ROUTER_API_MAX_BODY_BYTES", 1 << 20)
        if max_body < 1024:
            raise ConfigError("WK_ROUTER_API_MAX_BODY_BYTES must be at least 1024")
        external_url = env_str("WK_ROUTER_EXTERNAL_URL", "") or ""
        link_secret = secret("WK_ROUTER_ACK_LINK_SECRET")
        links = None
        if link_secret:
            if len(link_secret) < MIN_LINK_SECRET:
                raise ConfigError(
                    f"WK_ROUTER_ACK_LINK_SECRET needs at least {MIN_LINK_SECRET} characters"
                )
            if not external_url:
                raise ConfigError(
                    "WK_ROUTER_ACK_LINK_SECRET needs WK_ROUTER_EXTERNAL_URL (where links point)"
                )
            links = AckLinks(link_secret.encode(), external_url)
        return cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            config_path=env_str("WK_ROUTER_CONFIG", DEFAULT_CONFIG) or DEFAULT_CONFIG,
            external_url=external_url,
            retry=retry,
            max_in_flight=max_in_flight,
            shutdown_timeout_s=env_float("WK_ROUTER_SHUTDOWN_TIMEOUT_S", 10.0),
            startup_timeout_s=env_float("WK_STARTUP_TIMEOUT_S", 60.0),
            api_host=env_str("WK_ROUTER_API_HOST", "127.0.0.1") or "127.0.0.1",
            api_port=env_int("WK_ROUTER_API_PORT", DEFAULT_API_PORT),
            api_max_body_bytes=max_body,
            api_tokens=parse_tokens(secret("WK_ROUTER_API_TOKENS")),
            ack_links=links,
            silence_retention_s=env_float("WK_ROUTER_SILENCE_RETENTION_S", DEFAULT_RETENTION_S),
        )
