"""What every service reads from the environment, beside its own settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..settings import KafkaSettings, env_int, env_str, topic_prefix


@dataclass(frozen=True)
class ServiceSettings:
    """``KAFKA_*`` for the cluster and ``WK_*`` for the service.

    ``WK_HTTP_PORT`` / ``WK_HTTP_HOST`` serve /metrics and /healthz (127.0.0.1 unless set,
    so that nothing listens on a public interface by surprise); ``WK_CONSUMER_GROUP``
    defaults to ``<prefix><service>``.
    """

    name: str
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    prefix: str = "wk."
    group: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 0
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, name: str, default_port: int) -> ServiceSettings:
        prefix = topic_prefix()
        return cls(
            name=name,
            kafka=KafkaSettings.from_env(),
            prefix=prefix,
            group=env_str("WK_CONSUMER_GROUP") or f"{prefix}{name}",
            http_host=env_str("WK_HTTP_HOST", "127.0.0.1") or "127.0.0.1",
            http_port=env_int("WK_HTTP_PORT", default_port),
            log_level=env_str("WK_LOG_LEVEL", "INFO") or "INFO",
        )

    def topic(self, name: str) -> str:
        return self.prefix + name
