"""archive settings: the environment (``WK_ARCHIVE_*``) and the retention file
(``WK_ARCHIVE_POLICY``, default ``deploy/archive.yaml``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from watchkeeper import topics
from watchkeeper._paths import REPO_ROOT
from watchkeeper.settings import ConfigError, ServiceSettings, env_float, env_int, env_str

from .policy import Policy, load_policy

NAME = "archive"
DEFAULT_HTTP_PORT = 8112
DEFAULT_POLICY = REPO_ROOT / "deploy" / "archive.yaml"
DEFAULT_TOPICS = ("predictions", "feedback", "telemetry")


def _positive(name: str, default: float) -> float:
    value = env_float(name, default)
    if not value > 0 or math.isinf(value):
        raise ConfigError(f"{name} must be a positive number, got {value}")
    return value


def _level(name: str, default: int) -> int:
    value = env_int(name, default)
    if not 1 <= value <= 22:
        raise ConfigError(f"{name} must be a zstd level from 1 to 22, got {value}")
    return value


def _topics(raw: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in raw.split(",") if t.strip())
    if not names:
        raise ConfigError("WK_ARCHIVE_TOPICS names no topic")
    for name in names:
        try:
            spec = topics.spec(name)
        except KeyError:
            raise ConfigError(f"WK_ARCHIVE_TOPICS: no topic {name!r}") from None
        if spec.schema is None:
            raise ConfigError(f"WK_ARCHIVE_TOPICS: {name!r} carries no Avro events")
    return names


@dataclass(frozen=True)
class ArchiveConfig:
    service: ServiceSettings
    root: str  # a local directory or a filesystem URL (watchkeeper.tiering.store)
    topics: tuple[str, ...] = DEFAULT_TOPICS
    flush_records: int = 50_000
    flush_s: float = 60.0
    cold_level: int = 3
    archive_level: int = 19
    maintenance_s: float = 300.0
    alert_after_s: float = 60.0
    retry_max_s: float = 30.0
    batch: int = 5000
    policy_path: str = str(DEFAULT_POLICY)
    policy: Policy = field(default_factory=Policy)

    @classmethod
    def from_env(cls) -> ArchiveConfig:
        flush_records = env_int("WK_ARCHIVE_FLUSH_RECORDS", 50_000)
        if flush_records < 1:
            raise ConfigError(f"WK_ARCHIVE_FLUSH_RECORDS must be >= 1, got {flush_records}")
        path = env_str("WK_ARCHIVE_POLICY") or str(DEFAULT_POLICY)
        flush_s = _positive("WK_ARCHIVE_FLUSH_S", 60.0)
        root = env_str("WK_ARCHIVE_ROOT")
        if not root:
            raise ConfigError("WK_ARCHIVE_ROOT must name the tiers' directory or URL")
        return cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            root=root,
            topics=_topics(env_str("WK_ARCHIVE_TOPICS") or ",".join(DEFAULT_TOPICS)),
            flush_records=flush_records,
            flush_s=flush_s,
            cold_level=_level("WK_ARCHIVE_COLD_LEVEL", 3),
            archive_level=_level("WK_ARCHIVE_ARCHIVE_LEVEL", 19),
            maintenance_s=_positive("WK_ARCHIVE_MAINTENANCE_S", 300.0),
            alert_after_s=env_float("WK_ARCHIVE_ALERT_AFTER_S", 60.0),
            retry_max_s=_positive("WK_ARCHIVE_RETRY_MAX_S", 30.0),
            batch=max(1, env_int("WK_ARCHIVE_BATCH", 5000)),
            policy_path=path,
            policy=load_policy(path),
        )

    def logical(self, full_topic: str) -> str:
        """``wk.predictions`` -> ``predictions`` (the paths use logical names)."""
        return full_topic[len(self.service.prefix) :]
