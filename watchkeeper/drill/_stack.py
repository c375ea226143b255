"""What a drill stands up: local clusters on free ports, the alerting services, on-call.

Every piece is the real one (KRaft brokers from the cached jars, the services as
supervised processes, a real HTTP receiver), started the way ``make demo`` starts them, so
that what a drill measures is what production would see on this machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import topic_admin
from ..devstack import ServiceProcess, WebhookReceiver
from ..local_kafka import LocalKafka, ensure_jars
from ..mirror import temporary
from ..ports import free_port
from ..settings import KafkaSettings

ALERT = "HighErrorRate"
TOKEN = "drill-admin-token-0123456789"
TOKENS = f"drill admin,read,ack {TOKEN}"
ROUTER_CONFIG = """
route:
  receiver: oncall
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: {url}/oncall
        send_resolved: true
"""


def cluster(home: Path) -> LocalKafka:
    """A single-node cluster in ``home`` on free ports (not started)."""
    ensure_jars(quiet=True)
    return temporary(home)


def apply_topics(bootstrap: str, prefix: str) -> None:
    topic_admin.apply(KafkaSettings(bootstrap_servers=bootstrap), prefix=prefix)


@dataclass
class Services:
    """slo and router, supervised: enough for an error burst to reach on-call."""

    slo: ServiceProcess
    router: ServiceProcess
    api_port: int
    extra: list[ServiceProcess] = field(default_factory=list)

    @property
    def all(self) -> list[ServiceProcess]:
        return [self.slo, self.router, *self.extra]

    def wait_healthy(self, timeout: float = 90.0) -> None:
        for service in self.all:
            service.wait_healthy(timeout)

    def kill(self) -> None:
        for service in self.all:
            service.restart = False
            service.kill()

    def stop(self) -> None:
        for service in self.all:
            service.stop()


def start_services(env: dict[str, str], receiver: WebhookReceiver, workdir: Path) -> Services:
    """``env`` names the cluster(s) and the prefix; logs go to ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "router.yaml"
    config.write_text(ROUTER_CONFIG.format(url=receiver.url))
    api_port = free_port()
    slo = ServiceProcess(
        "services.slo",
        {**env, "WK_SLO_WINDOW_S": "2", "WK_SLO_GRACE_S": "1"},
        workdir / "slo.log",
        restart=True,
    )
    router = ServiceProcess(
        "services.router",
        {
            **env,
            "WK_ROUTER_CONFIG": str(config),
            "WK_ROUTER_API_PORT": str(api_port),
            "WK_ROUTER_API_TOKENS": TOKENS,
        },
        workdir / "router.log",
        restart=True,
    )
    return Services(slo, router, api_port)


def first_alert(
    receiver: WebhookReceiver, model: str, after: float, timeout: float
) -> float | None:
    """Arrival time (``time.time()``) of the first firing ``ALERT`` for ``model`` delivered
    after ``after``, waiting up to ``timeout`` s for it; None if none came."""
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        requests = receiver.delivered("/oncall")
        for request in requests[seen:]:
            if request.at >= after and _fires(request.body, model):
                return request.at
        seen = len(requests)
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        receiver.wait_for(seen + 1, "/oncall", timeout=left)


def _fires(body: object, model: str) -> bool:
    alerts = body.get("alerts", []) if isinstance(body, dict) else []
    return any(
        alert.get("status") == "firing"
        and alert.get("labels", {}).get("alertname") == ALERT
        and alert.get("labels", {}).get("model") == model
        for alert in alerts
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"drill: {what} did not happen within {timeout:.0f} s")
        time.sleep(step)
