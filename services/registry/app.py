"""registry, wired: the control-plane service with the registry's decisions, its index and
routes, and the feeds that bring lineage and prediction streams in."""

from __future__ import annotations

from watchkeeper import __version__
from watchkeeper.control import Entity, Event
from watchkeeper.control.service import ControlService

from .config import RegistryConfig
from .decide import Registry
from .index import Index
from .routes import Routes

HISTORY_TOPIC = "registry-history"
STATE_TOPIC = "registry-state"


def build(config: RegistryConfig) -> ControlService:
    index = Index()

    def committed(event: Event, entity: Entity) -> None:
        index.add(entity)

    return ControlService(
        config.service,
        __version__,
        Registry(config.policy),
        lambda service: Routes(service, index).operations(),
        config.tokens,
        HISTORY_TOPIC,
        STATE_TOPIC,
        max_body=config.max_body,
        on_commit=committed,
    )


def serve(config: RegistryConfig) -> int:
    return build(config).run()
