"""replication settings: the target cluster, the poll, and when lag becomes an alert."""

from __future__ import annotations

import math
from dataclasses import dataclass

from watchkeeper.settings import ConfigError, ServiceSettings, env_float, env_str

NAME = "replication"
DEFAULT_HTTP_PORT = 8111
DEFAULT_TARGET = "127.0.0.1:9392"  # the local cluster b (watchkeeper kafka up --cluster b)


def _positive(name: str, default: float) -> float:
    value = env_float(name, default)
    if not value > 0 or math.isinf(value):
        raise ConfigError(f"{name} must be a positive number of seconds, got {value}")
    return value


@dataclass(frozen=True)
class ReplicationConfig:
    service: ServiceSettings  # KAFKA_BOOTSTRAP_SERVERS is a, the source (alerts go there)
    target: str = DEFAULT_TARGET
    target_name: str = "b"
    poll_s: float = 5.0
    threshold_s: float = 30.0
    for_s: float = 60.0
    resolve_after: int = 2
    down_after_s: float = 15.0
    timeout_s: float = 5.0

    @classmethod
    def from_env(cls) -> ReplicationConfig:
        poll_s = _positive("WK_REPLICATION_POLL_S", 5.0)
        threshold_s = _positive("WK_REPLICATION_LAG_THRESHOLD_S", 30.0)
        for_s = env_float("WK_REPLICATION_LAG_FOR_S", 60.0)
        if for_s < 0:
            raise ConfigError(f"WK_REPLICATION_LAG_FOR_S must be >= 0, got {for_s}")
        resolve_after = env_float("WK_REPLICATION_RESOLVE_AFTER", 2)
        if resolve_after < 1 or resolve_after != int(resolve_after):
            raise ConfigError(
                f"WK_REPLICATION_RESOLVE_AFTER must be a whole number >= 1, got {resolve_after}"
            )
        target = env_str("WK_REPLICATION_TARGET", DEFAULT_TARGET) or DEFAULT_TARGET
        if any(c.isspace() for c in target) or ":" not in target:
            raise ConfigError(
                f"WK_REPLICATION_TARGET must be host:port[,host:port], got {target!r}"
            )
        return cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            target=target,
            target_name=env_str("WK_REPLICATION_TARGET_NAME", "b") or "b",
            poll_s=poll_s,
            threshold_s=threshold_s,
            for_s=for_s,
            resolve_after=int(resolve_after),
            down_after_s=_positive("WK_REPLICATION_DOWN_AFTER_S", 15.0),
            timeout_s=_positive("WK_REPLICATION_TIMEOUT_S", 5.0),
        )

    def polls(self, seconds: float) -> int:
        """How many polls in a row make ``seconds`` (at least one).

        >>> ReplicationConfig(ServiceSettings("replication"), poll_s=5.0).polls(60.0)
        12
        """
        return max(1, math.ceil(seconds / self.poll_s))
