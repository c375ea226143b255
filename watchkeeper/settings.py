"""Settings from the environment, the same way in every service.

Any setting ``X`` that is a secret may instead be given as ``X_FILE``: the path of a file
holding it (Docker and Kubernetes secrets). Secrets never appear in ``repr`` or logs.

>>> import os
>>> os.environ["WK_DEMO_PORT"] = "8080"
>>> env_int("WK_DEMO_PORT", 0)
8080
>>> os.environ["WK_DEMO_PORT"] = "eighty"
>>> env_int("WK_DEMO_PORT", 0)
Traceback (most recent call last):
...
watchkeeper.settings.ConfigError: WK_DEMO_PORT must be an integer, got 'eighty'
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_PREFIX = "wk."
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = env_str(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None


def secret(name: str) -> str | None:
    """``$NAME``, or the contents of the file ``$NAME_FILE`` (one trailing newline dropped)."""
    value = env_str(name)
    path = env_str(f"{name}_FILE")
    if value is not None and path is not None:
        raise ConfigError(f"set {name} or {name}_FILE, not both")
    if path is None:
        return value
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
    return content[:-1] if content.endswith("\n") else content


@dataclass(frozen=True)
class KafkaSettings:
    """How to reach the cluster. ``KAFKA_*`` variables, shared by every service and the SDK."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(
                f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}, "
                f"got {self.security_protocol!r}"
            )
        if self.uses_sasl:
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise ConfigError(
                    f"KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)} "
                    f"with {self.security_protocol}, got {self.sasl_mechanism!r}"
                )
            if not self.sasl_username or self.sasl_password is None:
                raise ConfigError(
                    f"{self.security_protocol} needs KAFKA_SASL_USERNAME and "
                    "KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)"
                )

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol.endswith("SSL")

    @classmethod
    def from_env(cls) -> KafkaSettings:
        return cls(
            bootstrap_servers=env_str("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
            security_protocol=(env_str("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") or "").upper(),
            sasl_mechanism=env_str("KAFKA_SASL_MECHANISM"),
            sasl_username=env_str("KAFKA_SASL_USERNAME"),
            sasl_password=secret("KAFKA_SASL_PASSWORD"),
            ssl_ca_location=env_str("KAFKA_SSL_CA_LOCATION"),
            ssl_certificate_location=env_str("KAFKA_SSL_CERTIFICATE_LOCATION"),
            ssl_key_location=env_str("KAFKA_SSL_KEY_LOCATION"),
            ssl_key_password=secret("KAFKA_SSL_KEY_PASSWORD"),
        )

    def confluent(self, **extra: Any) -> dict[str, Any]:
        """librdkafka settings. The protocol is always explicit (its default is plaintext)."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol.lower(),
        }
        if self.uses_sasl:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = self.sasl_password
        if self.uses_ssl:
            for key, value in (
                ("ssl.ca.location", self.ssl_ca_location),
                ("ssl.certificate.location", self.ssl_certificate_location),
                ("ssl.key.location", self.ssl_key_location),
                ("ssl.key.password", self.ssl_key_password),
            ):
                if value is not None:
                    config[key] = value
        config.update(extra)
        return config

    def ssl_context(self) -> ssl.SSLContext | None:
        """For aiokafka (Faust), which takes an ``SSLContext`` rather than file paths."""
        if not self.uses_ssl:
            return None
        context = ssl.create_default_context(cafile=self.ssl_ca_location)
        if self.ssl_certificate_location:
            context.load_cert_chain(
                self.ssl_certificate_location, self.ssl_key_location, self.ssl_key_password
            )
        return context


def topic_prefix() -> str:
    """``WK_TOPIC_PREFIX`` (default ``wk.``): lets several installations share one cluster."""
    # An empty value is honoured: a dedicated cluster may want no prefix at all.
    return os.environ.get("WK_TOPIC_PREFIX", DEFAULT_PREFIX)


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
