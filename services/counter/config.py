"""counter settings: ``WK_COUNTER_MAX_SERIES`` caps distinct (model, version) label pairs."""

from __future__ import annotations

from dataclasses import dataclass

from watchkeeper.settings import ServiceSettings, env_int

NAME = "counter"
DEFAULT_HTTP_PORT = 8101


@dataclass(frozen=True)
class CounterConfig:
    service: ServiceSettings
    max_series: int = 1000

    @classmethod
    def from_env(cls) -> CounterConfig:
        return cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            max_series=env_int("WK_COUNTER_MAX_SERIES", 1000),
        )
