"""retrain, wired: the control-plane service with the runs' decisions, the tick that
gates triggers into runs (debounce, cooldown, backoff, schedules, approval expiry), the
reconciler that launches and follows each run, the feed of retrain requests, and the
alerts a failed run or an approval wait sends through the router."""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import Counter

from watchkeeper import __version__
from watchkeeper.codec import Codec
from watchkeeper.control import Command, Entity, Event, Rejected
from watchkeeper.control.catalog import Catalog
from watchkeeper.control.history_routes import history_operations
from watchkeeper.control.service import ControlService, Outgoing
from watchkeeper.kit.alerting import AlertEmitter, prometheus_count
from watchkeeper.runtime import logs

from . import gating
from .callback_token import approval_link
from .config import RetrainConfig
from .decide import Retrains
from .feeds import requests_feed
from .new_data import new_data_trigger
from .reconcile import Reconciler
from .routes import Routes
from .schedule import due

log = logging.getLogger(__name__)
ALERTS = Counter("wk_retrain_alerts_total", "Alert state changes published.",
                 ["alertname", "status"])  # fmt: skip
RUNS = Counter("wk_retrain_runs_total", "Runs by how they ended.", ["state"])


def alert_outbox(event: Event, alerts: AlertEmitter, links=None) -> list[Outgoing]:
    """``RetrainFailed`` when a run fails (resolved by the model's next run), and
    ``RetrainApprovalNeeded`` while a candidate waits for a person."""
    if event.kind != "run":
        return []
    data, now = event.data, event.audit.at_ms
    model = event.key.rsplit("-", 1)[0]
    out = []

    def emit(identity, status, annotations):
        o = alerts.emit(identity, status, labels={"severity": "ticket", "service": "retrain"},
                        annotations=annotations, starts_at_ms=now, now_ms=now)  # fmt: skip
        out.append((o.topic, o.key, o.value))

    if event.type == "run.failed":
        emit(
            {"alertname": "RetrainFailed", "model": model},
            "firing",
            {"summary": f"retrain run {event.key} failed", "reason": data.get("failure", "")},
        )
    elif event.type == "run.created":
        emit({"alertname": "RetrainFailed", "model": model}, "resolved", {})
    elif event.type == "run.validated" and data.get("state") == "awaiting_approval":
        expires = data.get("approval_expires_ms", now)
        annotations = {
            "summary": f"retrain run {event.key}: a candidate waits for approval",
            "cli": f"watchkeeper retrain approve|reject {event.key} --reason ...",
        }
        if links is not None:
            annotations["approve_url"] = links(event.key, "approve", expires)
            annotations["reject_url"] = links(event.key, "reject", expires)
        emit(
            {"alertname": "RetrainApprovalNeeded", "model": model, "run": event.key},
            "firing",
            annotations,
        )
    elif event.type in ("run.approved", "run.rejected", "run.expired"):
        emit({"alertname": "RetrainApprovalNeeded", "model": model, "run": event.key},
             "resolved", {})  # fmt: skip
    return out


def model_state(entity: Entity, runs: dict[str, Entity]) -> gating.ModelState:
    data = entity.data
    flight = None
    if data["in_flight"]:
        run = runs.get(data["in_flight"])
        keys = frozenset(t["dedup_key"] for t in run.data["triggers"]) if run else frozenset()
        flight = gating.InFlight(data["in_flight"], run.data["created_ms"] if run else 0, keys)
    pending = tuple(gating.Trigger(t["kind"], t["reason"], t["dedup_key"], t["at_ms"],
                                   t.get("evidence", {})) for t in data["pending"])  # fmt: skip
    return gating.ModelState(flight, data.get("last_ended_ms"), data.get("failures", 0), pending)


def build(config: RetrainConfig) -> ControlService:
    catalog = Catalog()
    registry = rollouts = None
    if config.registry_url:
        from watchkeeper.clients.registry import RegistryClient

        registry = RegistryClient(config.registry_url, config.registry_token or None)
    if config.rollout_url:
        from watchkeeper.clients.rollout import RolloutClient

        rollouts = RolloutClient(config.rollout_url, config.rollout_token or None)
    alerts = AlertEmitter("retrain", Codec().encode, prometheus_count(ALERTS))

    def links(rid: str, decision: str, expires_ms: int) -> str:
        return approval_link(config.callback_secret, config.public_url, rid, decision, expires_ms)

    service: ControlService
    reconciler: Reconciler
    fired: dict[str, int] = {}  # model -> the last schedule fire that became a trigger

    def committed(event: Event, entity: Entity) -> None:
        catalog.committed(entity)
        reconciler.committed(entity)
        if event.type in ("run.promoted", "run.rolled_back", "run.failed", "run.rejected",
                          "run.expired", "run.cancelled"):  # fmt: skip
            RUNS.labels(event.type.removeprefix("run.")).inc()

    async def submit(command: Command) -> None:
        try:
            await service.submit(command)
        except Rejected as exc:
            log.info("tick's command refused", extra={"reason": exc.reason})

    def taken(model: str, key: str) -> bool:
        """A dedup key some run of the model (or its waiting triggers) already had."""
        entity = catalog.of("model").get(model)
        if entity and any(t["dedup_key"] == key for t in entity.data["pending"]):
            return True
        runs = (r for r in catalog.of("run").values() if r.data["model"] == model)
        return any(t["dedup_key"] == key for r in runs for t in r.data["triggers"])

    def look_for_new_data(model: str, spec) -> dict | None:
        from watchkeeper.control.client import ApiError

        try:
            held = registry.get_alias(model, "champion")["version"]
        except ApiError:
            held = {}
        trained_on = {d["name"]: d["version"] for d in held.get("training_datasets", [])}
        datasets = registry.list_datasets(spec.dataset)["datasets"]
        return new_data_trigger(model, spec, datasets, trained_on)

    async def new_data(now: int) -> None:
        loop = asyncio.get_running_loop()
        for model, policy in config.policy.models.items():
            spec = policy.triggers.new_data
            if spec is None or registry is None:
                continue
            try:
                body = await loop.run_in_executor(None, look_for_new_data, model, spec)
            except Exception as exc:  # the registry away: the next poll asks again
                log.info("new-data poll failed", extra={"model": model, "error": str(exc)})
                continue
            if body is not None and not taken(model, body["dedup_key"]):
                await submit(Command("triggers.add", body, "new-data", body["dedup_key"],
                                     source="registry", at_ms=now))  # fmt: skip

    async def tick() -> None:
        started = int(time.time() * 1000)
        polled = 0.0
        while True:
            await asyncio.sleep(config.tick_s)  # the gate's period
            now = int(time.time() * 1000)
            if time.monotonic() - polled >= config.new_data_poll_s:
                polled = time.monotonic()
                await new_data(now)
            for model, policy in config.policy.models.items():
                schedule = policy.triggers.schedule
                fire = due(schedule, fired.get(model, started), now) if schedule else None
                if fire is not None:
                    fired[model] = fire
                    body = {"model": model, "kind": "schedule", "dedup_key":
                            f"schedule:{model}:{fire}", "reason": f"cron {schedule.cron} "
                            f"({schedule.timezone})"}  # fmt: skip
                    await submit(Command("triggers.add", body, "schedule", body["dedup_key"],
                                         source="schedule", at_ms=now))  # fmt: skip
            for model, entity in list(catalog.of("model").items()):
                policy = config.policy.for_model(model)
                decision = gating.gate(policy, model_state(entity, catalog.of("run")), now)
                if decision.action == "launch":
                    key = f"{model}:start:{entity.data['runs'] + 1}"
                    await submit(Command("runs.start", {"model": model}, "gate", key,
                                         source="tick", at_ms=now))  # fmt: skip

    def operations(svc: ControlService):
        return Routes(svc, catalog, config.callback_secret).operations() + history_operations(svc)

    service = ControlService(
        config.service, __version__, Retrains(), operations, config.tokens,
        "retrain-history", "retrain-state", max_body=config.max_body, on_commit=committed,
        outbox=lambda event: alert_outbox(event, alerts, links),
    )  # fmt: skip
    reconciler = Reconciler(service, config, registry, rollouts)
    service.after_ready = [tick, reconciler.run]
    service.feeds = [requests_feed(config.service)]
    return service


def serve(config: RetrainConfig) -> int:
    logs.configure(config.service.name, config.service.log_level)
    return build(config).run()
