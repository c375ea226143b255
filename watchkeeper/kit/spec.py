"""What a service is, declared once: ``ServiceSpec``.

Every service is a spec: its name, the topics it reads and writes (their schemas come from
``watchkeeper.topics``), how it reads its configuration, and how it builds the tasks that
hold its domain logic (and anything it runs beside them, and the HTTP routes it adds).
``watchkeeper.runtime.run(spec)`` does the rest the same way for all of them: the command
line (``--help``, ``--version``, ``--check-config``), configuration errors as exit 2,
logs, /metrics and /healthz, topics, and the engine that feeds the tasks.

Importing a spec imports no Kafka client: ``--help`` and ``--check-config`` never touch
the network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .routes import Route
from .task import Task

C = TypeVar("C")
ENGINES = ("batch", "faust", "own")


class Beside(Protocol):
    """Something a service runs beside its tasks (a view of a compacted topic ...): started
    after the topics exist and before the first event, stopped at exit."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def problem(self) -> str | None:
        """None when fine, or what is wrong (``/healthz`` turns degraded)."""


@dataclass
class Parts:
    """What ``ServiceSpec.build`` returns: a task per input partition, and the rest."""

    tasks: Callable[[int], Task]
    beside: Sequence[Beside] = ()
    routes: Sequence[Route] = ()


@dataclass(frozen=True)
class Setting:
    """One environment variable, for ``--help``."""

    name: str
    default: str
    doc: str


@dataclass(frozen=True)
class ServiceSpec(Generic[C]):
    name: str
    summary: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    config: Callable[[], C]  # from the environment; raises ConfigError / ConfigFileError
    build: Callable[[C, Any], Parts] | None = None  # (config, codec) -> Parts
    engine: str = "batch"  # batch | faust | own (the service runs its own loop: serve)
    state_topic: str | None = None  # the tasks' changelog (compacted, co-partitioned)
    check_file: Callable[[str], object] | None = None  # --check-config FILE
    config_file: Setting | None = None  # the variable naming that file
    settings: Sequence[Setting] = ()
    serve: Callable[[C], int] | None = None  # engine "own"
    doc: str = ""  # docs/services/<name>.md
    surface: str = ""  # what else it offers or talks to (HTTP routes, webhooks), for the docs

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"{self.name}: engine must be one of {ENGINES}, got {self.engine!r}")
        if self.engine == "own" and self.serve is None:
            raise ValueError(f"{self.name}: engine 'own' needs serve")
        if self.engine != "own" and self.build is None:
            raise ValueError(f"{self.name}: engine {self.engine!r} needs build")

    def input_schemas(self) -> dict[str, str]:
        """Logical input topic -> the Avro type it carries (``TopicSpec.schema``)."""
        from .. import topics

        found = {}
        for name in self.inputs:
            schema = topics.spec(name).schema
            if schema is None:
                raise ValueError(f"{self.name}: input topic {name} declares no schema")
            found[name] = schema
        return found
