"""``make demo``: a model gets slow and starts failing; the right person is told, once.

Starts (or reuses) Kafka, the ``slo`` and ``router`` services, an on-call webhook receiver
and a traffic simulator playing two models for about a minute. Midway one version
degrades (latency x20, 15 % errors), then recovers. A live view shows throughput, p99
and open alerts; the summary gives the detection latency from the first degraded event
to the webhook's receipt. Exit 0 only if the alert was delivered and later resolved.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from watchkeeper import topics
from watchkeeper.devstack import ServiceProcess, WebhookReceiver, kafka_for_run
from watchkeeper.local_kafka import free_port
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from .simulator import Degradation, ModelProfile, Simulator

HEALTHY_S, DEGRADED_S, RECOVERY_S = 20.0, 20.0, 25.0
PROFILES = [
    ModelProfile("fraud", "3.2.0", median_ms=8.0, sigma=0.5),
    ModelProfile("recommender", "11", median_ms=40.0, sigma=0.6, slow_ms=300.0),
]
EXPECTED = ("HighErrorRate", "fraud")
# Nobody acknowledges in the demo: after 10 s the page escalates to the secondary on-call,
# after 10 s more an incident opens.
ROUTER_CONFIG = """
route:
  receiver: oncall
  group_by: [alertname, model, version]
  group_wait: 0s
  group_interval: 10s
  repeat_interval: 1h
  escalation: demo-page
escalation_policies:
  - name: demo-page
    steps:
      - notify: [oncall]
        wait: 10s
      - notify: [secondary]
        wait: 10s
      - open_incident: true
        notify: [incident-commander]
receivers:
  - name: oncall
    webhook_configs:
      - url: {url}/oncall
        send_resolved: true
  - name: secondary
    webhook_configs:
      - url: {url}/secondary
        send_resolved: true
  - name: incident-commander
    webhook_configs:
      - url: {url}/incident
"""


def open_alerts(receiver: WebhookReceiver) -> dict[str, dict]:
    """The receiver's view: the latest status of every alert it was told about."""
    state: dict[str, dict] = {}
    for request in receiver.delivered("/oncall"):
        for alert in request.body.get("alerts", []):
            state[alert["fingerprint"]] = alert
    return {fp: a for fp, a in state.items() if a["status"] == "firing"}


def live_line(slo: ServiceProcess, receiver: WebhookReceiver, elapsed: float, phase: str) -> str:
    parts = [f"{elapsed:5.0f}s {phase:<9}"]
    for profile in PROFILES:
        labels = dict(
            model=profile.model,
            version=profile.version,
            variant="default",
            region=profile.region,
            view="window",
        )
        rate = slo.metric("wk_slo_throughput_per_s", **labels)
        p99 = slo.metric("wk_slo_latency_ms", **labels, quantile="0.99")
        parts.append(f"{profile.model} {rate:5.0f}/s p99 {p99:7.1f} ms")
    alerts = open_alerts(receiver)
    names = (
        ", ".join(
            sorted(f"{a['labels']['alertname']}({a['labels']['model']})" for a in alerts.values())
        )
        or "-"
    )
    parts.append(f"open alerts: {names}")
    return " | ".join(parts)


def main() -> int:
    receiver = WebhookReceiver().start()
    with kafka_for_run(quiet=False) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        prefix = f"demo{int(time.time())}."
        settings = KafkaSettings(bootstrap_servers=bootstrap)
        topics.apply(settings, prefix=prefix)
        config = Path(tmp) / "router.yaml"
        config.write_text(ROUTER_CONFIG.format(url=receiver.url))
        env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "WK_TOPIC_PREFIX": prefix}
        print(f"Kafka {bootstrap} | topics {prefix}* | on-call receiver {receiver.url}/oncall")
        services = [
            ServiceProcess(
                "services.slo",
                {**env, "WK_SLO_WINDOW_S": "5", "WK_SLO_GRACE_S": "1"},
                Path(tmp) / "slo.log",
            ),
            ServiceProcess(
                "services.router",
                {**env, "WK_ROUTER_CONFIG": str(config), "WK_ROUTER_API_PORT": str(free_port())},
                Path(tmp) / "router.log",
            ),
        ]
        try:
            for service in services:
                service.wait_healthy()
            slo, router = services
            print(f"slo {slo.url}/metrics | router {router.url}/metrics\n")
            return play(settings, prefix, slo, receiver)
        finally:
            for service in services:
                code = service.stop()
                print(f"{service.module} stopped (exit {code})")
            receiver.stop()


def play(
    settings: KafkaSettings, prefix: str, slo: ServiceProcess, receiver: WebhookReceiver
) -> int:
    emitter = Emitter(settings, prefix=prefix, client_id="demo-simulator")
    degradation = Degradation("fraud", HEALTHY_S, HEALTHY_S + DEGRADED_S)
    simulator = Simulator(emitter, PROFILES, rate_per_s=250.0, degradation=degradation)
    start = time.monotonic()

    def show(elapsed: float) -> None:
        phase = (
            "degraded"
            if degradation.active(elapsed)
            else "healthy"
            if elapsed < HEALTHY_S
            else "recovery"
        )
        print(live_line(slo, receiver, elapsed, phase), flush=True)

    simulator.run_for(HEALTHY_S + DEGRADED_S + RECOVERY_S, start, on_second=show)
    emitter.close(timeout=10)
    resolved = wait_resolved(receiver, timeout=20)
    return summary(simulator, slo, receiver, resolved)


def first(receiver: WebhookReceiver, status: str, path: str = "/oncall"):
    for request in receiver.delivered(path):
        for alert in request.body.get("alerts", []):
            labels = alert["labels"]
            if (labels["alertname"], labels["model"]) == EXPECTED and alert["status"] == status:
                return request
    return None


def wait_resolved(receiver: WebhookReceiver, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if first(receiver, "resolved") is not None:
            return True
        time.sleep(0.5)
    return False


def summary(
    simulator: Simulator, slo: ServiceProcess, receiver: WebhookReceiver, resolved: bool
) -> int:
    from watchkeeper.devstack import scrape

    samples = scrape(slo.url + "/metrics")
    windows = sum(v for (n, _), v in samples.items() if n == "wk_slo_windows_closed_total")
    fired = sum(
        v
        for (n, labels), v in samples.items()
        if n == "wk_slo_alerts_total" and ("status", "firing") in labels
    )
    notifications = receiver.delivered("/oncall")
    firing = first(receiver, "firing")
    print("\nsummary")
    print(f"  events sent             {simulator.sent:,}")
    print(f"  windows closed          {int(windows):,}")
    print(f"  alerts fired            {int(fired)}")
    print(f"  notifications delivered {len(notifications)}")
    for request in notifications:
        body = request.body
        names = ", ".join(
            f"{a['labels']['alertname']}({a['labels']['model']} {a['labels']['version']})"
            for a in body["alerts"]
        )
        print(f"    {body['status']:<8} {names}")
    escalated = first(receiver, "firing", path="/secondary")
    ok = firing is not None and resolved and escalated is not None
    if firing is not None and simulator.first_degraded_at is not None:
        latency = firing.at - simulator.first_degraded_at
        print(
            f"  detection latency       {latency * 1000:,.0f} ms "
            "(first degraded event -> webhook received)"
        )
    if firing is not None and escalated is not None:
        step = escalated.headers.get("watchkeeper-escalation-step", "?")
        print(
            f"  escalation              nobody acknowledged: the secondary on-call was paged "
            f"{escalated.at - firing.at:.1f} s later (step {step})"
        )
    incidents = receiver.delivered("/incident")
    if incidents:
        print(
            f"  incidents               {len(incidents)} opened for groups still firing after "
            "both steps"
        )
    verdict = "delivered, escalated and resolved" if ok else "NOT delivered, escalated, resolved"
    print(f"\n{EXPECTED[0]} for {EXPECTED[1]}: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
