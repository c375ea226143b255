"""registry, wired: the control-plane service with the registry's decisions, its index,
lineage and routes, and the feeds that bring lineage and prediction streams in."""

from __future__ import annotations

import json

from watchkeeper import __version__
from watchkeeper.control import Entity, Event
from watchkeeper.control.history_routes import history_operations
from watchkeeper.control.service import ControlService, Outgoing
from watchkeeper.runtime import logs

from .config import RegistryConfig
from .decide import Registry
from .feeds import StreamCounts, lineage_feed, predictions_feed
from .index import Index
from .lineage_routes import LineageRoutes
from .lineage_view import Lineage
from .routes import Routes

HISTORY_TOPIC = "registry-history"
STATE_TOPIC = "registry-state"


def build(config: RegistryConfig) -> ControlService:
    index, lineage = Index(), Lineage()

    def committed(event: Event, entity: Entity) -> None:
        index.add(entity)
        lineage.committed(event, entity)

    def outbox(event: Event) -> list[Outgoing]:
        return [
            ("lineage", e["run"]["runId"].encode(), json.dumps(e, separators=(",", ":")).encode())
            for e in lineage.outbox(event)
        ]

    def operations(service: ControlService):
        return (
            Routes(service, index).operations()
            + LineageRoutes(service, lineage).operations()
            + history_operations(service)
        )

    service = ControlService(
        config.service,
        __version__,
        Registry(config.policy),
        operations,
        config.tokens,
        HISTORY_TOPIC,
        STATE_TOPIC,
        max_body=config.max_body,
        on_commit=committed,
        outbox=outbox,
        batch_max=config.batch_max,
        after_ready=[lineage.build],
    )
    counts = StreamCounts(lineage, service.call_soon)
    service.feeds = [lineage_feed(config.service), predictions_feed(config.service, counts)]
    return service


def serve(config: RegistryConfig) -> int:
    logs.configure(config.service.name, config.service.log_level)
    return build(config).run()
