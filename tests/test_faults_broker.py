"""A single broker killed with SIGKILL under load and restarted on its data, while every
prediction consumer, the router, counter and the SDK run: nothing lost, nothing doubled.

Counts are read back to the topics' end offsets (see ``loadtest.bounce``), so a duplicate
would show as one too many; notifications are counted at a real webhook receiver."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from loadtest.bounce import PER_MODEL_OUTPUTS, SERVICES, Fleet, Workload, bounce
from watchkeeper import topic_admin
from watchkeeper.devstack import ServiceProcess, WebhookReceiver
from watchkeeper.ports import free_port
from watchkeeper.settings import KafkaSettings

from .helpers import wait_for
from .test_router_support import FAST_RETRIES, SIMPLE, TOKEN_TABLE, Alerts

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
EVENTS = 12_000
ALERTS = 40


def ours(receiver: WebhookReceiver) -> list[str]:
    """The models of the test's own alerts in the notifications received (m0, m1, ...)."""
    models = [r.body["commonLabels"].get("model", "") for r in receiver.requests("/oncall")]
    return [m for m in models if m.startswith("m")]


def start_router(settings: KafkaSettings, prefix: str, tmp_path, receiver) -> ServiceProcess:
    config = tmp_path / "routing.yaml"
    config.write_text(SIMPLE)
    return ServiceProcess(
        "services.router",
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "WK_TOPIC_PREFIX": prefix,
            "WK_ROUTER_CONFIG": str(config),
            "RX": receiver.url,
            "WK_ROUTER_API_PORT": str(free_port()),
            "WK_ROUTER_API_TOKENS": TOKEN_TABLE,
            **FAST_RETRIES,
        },
        tmp_path / "router.log",
        restart=True,
    )


def test_a_broker_restart_under_load_loses_and_doubles_nothing(own_broker, tmp_path) -> None:
    settings = KafkaSettings(bootstrap_servers=own_broker.bootstrap)
    prefix = f"t{uuid.uuid4().hex[:10]}."
    topic_admin.apply(settings, prefix=prefix)
    receiver = WebhookReceiver().start()
    router = start_router(settings, prefix, tmp_path, receiver)
    fleet = Fleet(settings, prefix, tmp_path)
    workload = Workload(EVENTS)
    back = threading.Event()

    def restart() -> None:
        own_broker.wait_ready(own_broker.launch())
        back.set()

    def fire_alerts() -> None:
        """Alerts before, during and after the outage: one group (and notification) each."""
        alerts = Alerts(settings, prefix)
        for i in range(ALERTS):
            alerts.fire(f"fp-{i}", flush=False, model=f"m{i}")
            if i == ALERTS // 4:
                back.wait(120)  # the rest once the broker is back, all through recovery
            time.sleep(0.25)  # spread over the recovery, not as synchronisation
        assert alerts.producer.flush(60) == 0

    try:
        router.wait_healthy(timeout=120)
        fleet.start()
        sender = threading.Thread(target=fire_alerts)
        sender.start()
        result = bounce(fleet, workload, own_broker.kill, restart)
        sender.join()
        wait_for(lambda: len(ours(receiver)) >= ALERTS, timeout=120, what="every notification")
        exits = fleet.stop()
        assert router.stop() == 0
    finally:
        fleet.stop()
        router.stop()
        receiver.stop()

    assert result["undelivered"] == 0  # the SDK delivered every event
    services = result["services"]
    assert {name: s["counted"] for name, s in services.items()} == dict.fromkeys(SERVICES, EVENTS)
    assert {name: s["outputs"] for name, s in services.items() if "outputs" in s} == dict.fromkeys(
        PER_MODEL_OUTPUTS, 1
    )
    assert services["cost"]["cost_usd"] == workload.expected_cost()
    # Every service processed again after the broker came back (and said when).
    assert all(s["recovery_s"] is not None for s in services.values()), services
    assert exits == dict.fromkeys(SERVICES, 0)
    # Every alert notified exactly once: no loss, no resend across the broker restart.
    # (The services' own alerts on the workload go to the same receiver; not counted here.)
    assert sorted(ours(receiver)) == sorted(f"m{i}" for i in range(ALERTS))
    assert all(r.status == 200 for r in receiver.requests("/oncall"))
