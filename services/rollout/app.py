"""rollout, wired: the control-plane service with the rollouts' decisions, the routing
record and rollback alert each change sends, the live analysis fed by the streams, and
the reconciler that calls hooks and moves the registry's alias."""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import Counter, Gauge

from watchkeeper import __version__
from watchkeeper.codec import Codec
from watchkeeper.control import Entity, Event, Rejected
from watchkeeper.control.catalog import Catalog
from watchkeeper.control.history_routes import history_operations
from watchkeeper.control.service import ControlService, Outgoing
from watchkeeper.kit.alerting import AlertEmitter, prometheus_count
from watchkeeper.runtime import logs
from watchkeeper.sdk._assignment import Split

from .analysis import Analyses
from .config import RolloutConfig
from .decide import Rollouts
from .feeds import stream_feeds
from .reconcile import Reconciler
from .routes import Routes

log = logging.getLogger(__name__)
HISTORY_TOPIC = "rollout-history"
STATE_TOPIC = "rollout-state"
ALERTNAME = "RolloutRolledBack"
ALERTS = Counter("wk_rollout_alerts_total", "Alert state changes published.",
                 ["alertname", "status"])  # fmt: skip
VERDICTS = Counter("wk_rollout_verdicts_total", "Verdicts of the live analysis.", ["command"])
WEIGHT = Gauge("wk_rollout_weight_percent", "The live split: traffic percent per variant.",
               ["model", "variant", "version"])  # fmt: skip


class Weights:
    """The split as gauges; a variant that left the split leaves the metrics too."""

    def __init__(self) -> None:
        self.shown: dict[str, list[tuple[str, str, str]]] = {}

    def committed(self, entity: Entity) -> None:
        model = entity.key
        for labels in self.shown.pop(model, []):
            WEIGHT.remove(*labels)
        shown = []
        for v in entity.data["split"]["variants"]:
            labels = (model, v["name"], v["version"])
            WEIGHT.labels(*labels).set(v["weight"])
            shown.append(labels)
        self.shown[model] = shown


def routing_outbox(event: Event, alerts: AlertEmitter) -> list[Outgoing]:
    """The routing record every SDK reads and, when a rollout was rolled back (or the next
    one starts), its alert: in the same transaction as the change."""
    if event.kind != "routing":
        return []
    model = event.data["model"]
    doc = {**event.data["split"], "seq": event.seq}
    out: list[Outgoing] = [("routing", model.encode(), Split.from_dict(doc).to_json())]
    if "alert" in event.data:
        alert = event.data["alert"] or event.data.get("resolves")
        if alert:
            status = "firing" if event.data["alert"] else "resolved"
            identity = {"alertname": ALERTNAME, "model": model, "version": alert["version"],
                        "rollout": alert["rollout"]}  # fmt: skip
            output = alerts.emit(
                identity, status, labels={"severity": "critical", "service": "rollout"},
                annotations={"summary": f"{model} {alert['version']} was rolled back",
                             "reason": alert["reason"]},
                starts_at_ms=alert["at_ms"], now_ms=event.audit.at_ms)  # fmt: skip
            out.append((output.topic, output.key, output.value))
    return out


def build(config: RolloutConfig) -> ControlService:
    catalog, analyses, weights = Catalog(), Analyses(), Weights()
    registry = None
    if config.registry_url:
        from watchkeeper.clients.registry import RegistryClient

        registry = RegistryClient(config.registry_url, config.registry_token or None)
    codec = Codec()
    alerts = AlertEmitter("rollout", codec.encode, prometheus_count(ALERTS))
    service: ControlService
    reconciler: Reconciler

    def committed(event: Event, entity: Entity) -> None:
        catalog.committed(entity)
        if entity.kind == "routing":
            weights.committed(entity)
        if entity.kind == "rollout":
            analyses.update(entity)
            reconciler.committed(entity)

    def operations(svc: ControlService):
        return Routes(svc, catalog, analyses, registry).operations() + history_operations(svc)

    async def analyse() -> None:
        while True:
            await asyncio.sleep(config.tick_s)  # the analysis' period
            for command in analyses.tick(int(time.time() * 1000)):
                try:
                    await service.submit(command)
                    VERDICTS.labels(command.name).inc()
                except Rejected as exc:
                    if exc.status == 503:
                        analyses.retry(command.path["id"].rsplit("-", 1)[0], command.path["id"])
                    else:  # the rollout moved on (paused, aborted, a step by hand)
                        log.info("verdict not applied", extra={"reason": exc.reason})

    service = ControlService(
        config.service,
        __version__,
        Rollouts(),
        operations,
        config.tokens,
        HISTORY_TOPIC,
        STATE_TOPIC,
        max_body=config.max_body,
        on_commit=committed,
        outbox=lambda event: routing_outbox(event, alerts),
        batch_max=config.batch_max,
    )
    reconciler = Reconciler(service, registry, config.hook_secret)
    service.after_ready = [analyse, reconciler.run]
    service.feeds = stream_feeds(config.service, analyses)
    return service


def serve(config: RolloutConfig) -> int:
    logs.configure(config.service.name, config.service.log_level)
    return build(config).run()
