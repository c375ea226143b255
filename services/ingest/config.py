"""ingest settings: the tokens, the caps on a request, the backpressure bound, the deadline.

>>> IngestConfig(ServiceSettings("ingest")).delivery_timeout_ms
9000
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from watchkeeper.auth import TokenTable
from watchkeeper.settings import ConfigError, ServiceSettings, env_float, env_int, secret

from .scopes import SCOPES

NAME = "ingest"
DEFAULT_HTTP_PORT = 8113


def _at_least(name: str, default: int, low: int) -> int:
    value = env_int(name, default)
    if value < low:
        raise ConfigError(f"{name} must be at least {low}, got {value}")
    return value


def _seconds(name: str, default: float) -> float:
    value = env_float(name, default)
    if not value > 0 or math.isinf(value):
        raise ConfigError(f"{name} must be a positive number of seconds, got {value}")
    return value


@dataclass(frozen=True)
class IngestConfig:
    service: ServiceSettings
    tokens: TokenTable = field(default_factory=TokenTable)
    max_body: int = 1 << 20  # bytes, as sent and after gzip
    max_events: int = 5_000  # per request
    max_inflight_events: int = 50_000  # waiting for the broker, all requests together
    max_inflight_bytes: int = 64 << 20
    deadline_s: float = 10.0  # no request is answered later than this
    retry_after_s: int = 1
    probe_s: float = 2.0  # how often Kafka is asked whether it answers (/healthz)

    def __post_init__(self) -> None:
        # A request the bound could never hold would be refused forever: say so at start.
        if self.max_events > self.max_inflight_events:
            raise ConfigError(
                f"WK_INGEST_MAX_EVENTS ({self.max_events}) must not exceed "
                f"WK_INGEST_MAX_INFLIGHT_EVENTS ({self.max_inflight_events})"
            )
        if self.max_body > self.max_inflight_bytes:
            raise ConfigError(
                f"WK_INGEST_MAX_BODY_BYTES ({self.max_body}) must not exceed "
                f"WK_INGEST_MAX_INFLIGHT_BYTES ({self.max_inflight_bytes})"
            )

    @property
    def delivery_timeout_ms(self) -> int:
        """librdkafka gives up on a message before the request's deadline, so that every
        answer knows the fate of every event it reports (one second to spare)."""
        return max(500, int(self.deadline_s * 1000) - 1000)

    @classmethod
    def from_env(cls) -> IngestConfig:
        return cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            tokens=TokenTable.parse(
                secret("WK_INGEST_API_TOKENS") or "", "WK_INGEST_API_TOKENS", SCOPES
            ),
            max_body=_at_least("WK_INGEST_MAX_BODY_BYTES", 1 << 20, 1024),
            max_events=_at_least("WK_INGEST_MAX_EVENTS", 5_000, 1),
            max_inflight_events=_at_least("WK_INGEST_MAX_INFLIGHT_EVENTS", 50_000, 1),
            max_inflight_bytes=_at_least("WK_INGEST_MAX_INFLIGHT_BYTES", 64 << 20, 1024),
            deadline_s=_seconds("WK_INGEST_DEADLINE_S", 10.0),
            retry_after_s=_at_least("WK_INGEST_RETRY_AFTER_S", 1, 1),
            probe_s=_seconds("WK_INGEST_PROBE_S", 2.0),
        )
