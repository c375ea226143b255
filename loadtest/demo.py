"""``make demo``: a model gets slow and starts failing; the right person is told, once.

Starts (or reuses) Kafka, the ``slo``, ``router``, ``cost``, ``quality`` and ``registry``
services, an on-call webhook receiver and a traffic simulator playing two models for about
a minute. The models are registered first (training data, lineage, champion alias); the
summary ends with the impact of their raw source changing, live streams included.
Midway one version degrades (latency x20, 15 % errors), then recovers. From the start a
canary of a degraded fraud build (3.3.0) runs beside the champion, each request assigned
by the SDK from the rollout service's split; the comparison on the stream rolls it back,
with the reason and an alert to on-call.

A live line per second shows throughput and p99 per model, the fraud model's spend against
its (tiny) daily budget, the quality gate of fraud's training data, and the alerts open at
the receiver. The summary lists every notification, the detection latency (first degraded
event to webhook received), the escalation of the page nobody acknowledged, the cost alerts
and the gate's transitions. Exit 0 only if the error-rate alert was delivered, escalated
and later resolved; every process started is stopped.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from watchkeeper import topic_admin
from watchkeeper.devstack import (
    ServiceProcess,
    WebhookReceiver,
    http_json,
    kafka_for_run,
    print_restart,
    scrape,
)
from watchkeeper.ports import free_port
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from . import demo_registry, demo_rollout
from .simulator import Degradation, ModelProfile, Simulator

HEALTHY_S, DEGRADED_S, RECOVERY_S = 20.0, 20.0, 25.0
PROFILES = [
    ModelProfile("fraud", "3.2.0", median_ms=8.0, sigma=0.5),
    ModelProfile("recommender", "11", median_ms=40.0, sigma=0.6, slow_ms=300.0),
]
EXPECTED = ("HighErrorRate", "fraud", "3.2.0")  # the champion's, not the canary's
GATE = "fraud-training"
BUDGET = "fraud-demo"

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
# The simulated models send no telemetry: their fleets are priced here. The budget is tiny
# on purpose, so the demo's minute of traffic crosses +10, +25 and +50 % of its plan.
COST_CONFIG = """
fleets:
  fraud: {hourly_price_usd: 3.6, replicas: 1}
  recommender: {hourly_price_usd: 7.2, replicas: 2}
budgets:
  - {name: fraud-demo, match: {model: fraud, version: "3.2.0"}, daily: 0.01, warmup: 0s,
     cap: 0.04, labels: {team: ml-platform}}
"""
# Fraud's training data takes successful predictions only: 15 % errors make its accuracy
# check fail and block the gate a training pipeline would ask before running.
QUALITY_CONTRACTS = """
defaults: {window: 5s, min_events: 20, for: 1, recover: 2, max_age: 1m, silence: 1m,
           source_by: null}
contracts:
  fraud:
    gate: fraud-training
    fields:
      features.amount: {type: number, required: true, min: 0}
      features.channel: {type: string, required: true, allowed: [web, app, pos]}
      status: {allowed: [OK]}
"""


@dataclass
class Stack:
    slo: ServiceProcess
    router: ServiceProcess
    cost: ServiceProcess
    quality: ServiceProcess
    registry: ServiceProcess
    rollout: ServiceProcess
    receiver: WebhookReceiver
    canary: str = ""

    @property
    def services(self) -> list[ServiceProcess]:
        return [self.slo, self.router, self.cost, self.quality, self.registry, self.rollout]

    def gate(self) -> dict:
        try:
            _, body = http_json(f"{self.quality.url}/gate/{GATE}", timeout=2)
        except OSError:
            return {}
        return body


def supervised(module: str, env: dict[str, str], log_path: Path) -> ServiceProcess:
    """Run as a container runtime would: a service that exits (stuck in a Kafka call past
    its bound, fenced) is started again after a backoff, and the demo says so."""
    return ServiceProcess(module, env, log_path, restart=True, on_restart=print_restart)


def start(bootstrap: str, prefix: str, tmp: Path, receiver: WebhookReceiver) -> Stack:
    files = {
        "router.yaml": ROUTER_CONFIG.format(url=receiver.url),
        "cost.yaml": COST_CONFIG,
        "quality.yaml": QUALITY_CONTRACTS,
    }
    for name, text in files.items():
        (tmp / name).write_text(text)
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "WK_TOPIC_PREFIX": prefix}
    registry_port = free_port()
    return Stack(
        slo=supervised(
            "services.slo", {**env, "WK_SLO_WINDOW_S": "5", "WK_SLO_GRACE_S": "1"}, tmp / "slo.log"
        ),
        router=supervised(
            "services.router",
            {
                **env,
                "WK_ROUTER_CONFIG": str(tmp / "router.yaml"),
                "WK_ROUTER_API_PORT": str(free_port()),
            },
            tmp / "router.log",
        ),
        cost=supervised(
            "services.cost",
            {
                **env,
                "WK_COST_CONFIG": str(tmp / "cost.yaml"),
                "WK_COST_WINDOW_S": "5",
                "WK_COST_PUBLISH_INTERVAL_S": "1",
            },
            tmp / "cost.log",
        ),
        quality=supervised(
            "services.quality",
            {
                **env,
                "WK_QUALITY_CONTRACTS": str(tmp / "quality.yaml"),
                "WK_QUALITY_GRACE_S": "1",
            },
            tmp / "quality.log",
        ),
        registry=supervised(
            "services.registry",
            {
                **env,
                "WK_REGISTRY_API_TOKENS": demo_registry.TOKENS,
                "WK_HTTP_PORT": str(registry_port),
            },
            tmp / "registry.log",
        ),
        rollout=supervised(
            "services.rollout",
            {
                **env,
                "WK_ROLLOUT_API_TOKENS": demo_rollout.TOKENS,
                "WK_ROLLOUT_REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
                "WK_ROLLOUT_REGISTRY_TOKEN": demo_registry.TOKEN,
                "WK_ROLLOUT_TICK_S": "0.5",
            },
            tmp / "rollout.log",
        ),
        receiver=receiver,
    )


def main() -> int:
    receiver = WebhookReceiver().start()
    with kafka_for_run(quiet=False) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        prefix = f"demo{int(time.time())}."
        settings = KafkaSettings(bootstrap_servers=bootstrap)
        topic_admin.apply(settings, prefix=prefix)
        print(f"Kafka {bootstrap} | topics {prefix}* | on-call receiver {receiver.url}/oncall")
        stack = start(bootstrap, prefix, Path(tmp), receiver)
        try:
            for service in stack.services:
                service.wait_healthy()
            demo_registry.register(stack.registry.url)
            demo_rollout.register_candidate(stack.registry.url)
            print(
                f"slo {stack.slo.url}/metrics | router {stack.router.url}/metrics | "
                f"cost {stack.cost.url}/metrics | gate {stack.quality.url}/gate/{GATE} | "
                f"registry {stack.registry.url}/openapi.json | "
                f"rollout {stack.rollout.url}/api/v1/routing/fraud\n"
            )
            return play(settings, prefix, stack)
        finally:
            for service in stack.services:
                code = service.stop()
                print(f"{service.module} stopped (exit {code})")
            receiver.stop()


def alert_name(alert: dict) -> str:
    labels = alert["labels"]
    subject = labels.get("model") or labels.get("budget") or labels.get("gate") or ""
    if labels.get("alertname") == "RolloutRolledBack":
        subject += f" {labels.get('version', '')}"
    return f"{labels.get('alertname', '?')}({subject})"


def open_alerts(receiver: WebhookReceiver) -> dict[str, dict]:
    """The receiver's view: the latest status of every alert it was told about."""
    state: dict[str, dict] = {}
    for request in receiver.delivered("/oncall"):
        for alert in request.body.get("alerts", []):
            state[alert["fingerprint"]] = alert
    return {fp: a for fp, a in state.items() if a["status"] == "firing"}


def _figures(series: dict, wanted: set) -> tuple[float, float]:
    """Throughput and p99 of the window series whose labels include ``wanted``."""
    rate = sum(
        v
        for (n, labels), v in series.items()
        if n == "wk_slo_throughput_per_s" and wanted <= set(labels)
    )
    p99 = max(
        (
            v
            for (n, labels), v in series.items()
            if n == "wk_slo_latency_ms" and wanted | {("quantile", "0.99")} <= set(labels)
        ),
        default=0.0,
    )
    return rate, p99  # fmt: skip


def live_line(stack: Stack, elapsed: float, phase: str) -> str:
    parts = [f"{elapsed:3.0f}s {phase:<8}"]
    series = scrape(stack.slo.url + "/metrics")
    for profile in PROFILES:
        # The version serves as "baseline" while a canary runs, as "default" otherwise, and
        # a variant the split left keeps exporting its last window: the busier one is live.
        base = {("model", profile.model), ("version", profile.version), ("view", "window")}
        rate, p99 = max(_figures(series, base | {("variant", v)}) for v in ("default", "baseline"))
        parts.append(f"{profile.model} {rate:4.0f}/s p99 {p99:6.0f} ms")
    parts.append(demo_rollout.live(demo_rollout.status(stack.rollout.url, stack.canary)))
    spend = stack.cost.metric("wk_cost_budget_spend_usd", instance=BUDGET)
    plan = stack.cost.metric("wk_cost_budget_plan_usd", instance=BUDGET)
    parts.append(f"budget ${spend:.4f}/{plan:.4f}")
    parts.append(f"gate {stack.gate().get('state', '?')}")
    counts = Counter(alert_name(a) for a in open_alerts(stack.receiver).values())
    names = ", ".join(f"{n}x{c}" if c > 1 else n for n, c in sorted(counts.items()))
    parts.append(f"open: {names or '-'}")
    return " | ".join(parts)


def play(settings: KafkaSettings, prefix: str, stack: Stack) -> int:
    emitter = Emitter(settings, prefix=prefix, client_id="demo-simulator")
    degradation = Degradation("fraud", HEALTHY_S, HEALTHY_S + DEGRADED_S)
    simulator = Simulator(
        emitter,
        PROFILES,
        rate_per_s=250.0,
        degradation=degradation,
        routed=frozenset({"fraud"}),
        builds={(demo_rollout.MODEL, demo_rollout.CANDIDATE): demo_rollout.BUILD},
    )
    emitter.wait_for_routing(10)
    stack.canary = demo_rollout.start_canary(stack.rollout.url)
    begin = time.monotonic()
    gate_states: list[tuple[float, str]] = []

    def show(elapsed: float) -> None:
        if degradation.active(elapsed):
            phase = "degraded"
        else:
            phase = "healthy" if elapsed < HEALTHY_S else "recovery"
        state = stack.gate().get("state", "?")
        if not gate_states or gate_states[-1][1] != state:
            gate_states.append((elapsed, state))
        print(live_line(stack, elapsed, phase), flush=True)

    simulator.run_for(HEALTHY_S + DEGRADED_S + RECOVERY_S, begin, on_second=show)
    emitter.close(timeout=10)
    resolved = wait_for(lambda: first(stack.receiver, "resolved") is not None, timeout=20)
    return summary(simulator, stack, resolved, gate_states)


def first(receiver: WebhookReceiver, status: str, path: str = "/oncall"):
    for request in receiver.delivered(path):
        for alert in request.body.get("alerts", []):
            labels = alert["labels"]
            key = (labels.get("alertname"), labels.get("model"), labels.get("version"))
            if key == EXPECTED and alert["status"] == status:
                return request
    return None


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def total(service: ServiceProcess, metric: str, **match: str) -> float:
    return sum(
        v
        for (name, labels), v in scrape(service.url + "/metrics").items()
        if name == metric and all((k, v2) in labels for k, v2 in match.items())
    )


def summary(
    simulator: Simulator, stack: Stack, resolved: bool, gate_states: list[tuple[float, str]]
) -> int:
    receiver = stack.receiver
    notifications = receiver.delivered("/oncall")
    firing = first(receiver, "firing")
    escalated = first(receiver, "firing", path="/secondary")
    print("\nsummary")
    print(f"  events sent             {simulator.sent:,}")
    print(f"  windows closed          {int(total(stack.slo, 'wk_slo_windows_closed_total')):,}")
    slo_fired = int(total(stack.slo, "wk_slo_alerts_total", status="firing"))
    cost_fired = int(total(stack.cost, "wk_cost_alerts_total", status="firing"))
    print(f"  alerts fired            slo {slo_fired}, cost {cost_fired}")
    print(f"  notifications delivered {len(notifications)}")
    for request in notifications:
        names = ", ".join(alert_name(a) for a in request.body["alerts"])
        print(f"    {request.body['status']:<8} {names}")
    if firing is not None and simulator.first_degraded_at is not None:
        latency = firing.at - simulator.first_degraded_at
        print(
            f"  detection latency       {latency * 1000:,.0f} ms "
            "(first degraded event -> webhook received)"
        )
    if firing is not None and escalated is not None:
        step = escalated.headers.get("watchkeeper-escalation-step", "?")
        print(
            f"  escalation              nobody acknowledged: the secondary on-call was "
            f"paged {escalated.at - firing.at:.1f} s later (step {step})"
        )
    incidents = receiver.delivered("/incident")
    if incidents:
        print(
            f"  incidents               {len(incidents)} opened for groups still firing "
            "after both steps"
        )
    spend = stack.cost.metric("wk_cost_budget_spend_usd", instance=BUDGET)
    exceeded = stack.cost.metric("wk_cost_quota_exceeded", instance=BUDGET)
    print(
        f"  cost                    {BUDGET}: ${spend:.4f} spent today"
        f"{', quota EXCEEDED (gateways can refuse fraud calls)' if exceeded else ''}"
    )
    transitions = " -> ".join(f"{state} at {at:.0f}s" for at, state in gate_states)
    print(f"  quality gate {GATE}: {transitions or 'no verdict'}")
    rollout = demo_rollout.status(stack.rollout.url, stack.canary)
    rolled_back_alert = any(
        a["labels"].get("alertname") == "RolloutRolledBack"
        for r in notifications
        for a in r.body.get("alerts", [])
    )
    print("\n".join(demo_rollout.summary_lines(rollout, rolled_back_alert)))
    print("\n".join(demo_registry.impact_lines(stack.registry.url)))
    canary_ok = rollout.get("state") == "rolled_back" and rolled_back_alert
    if not canary_ok:
        print("\nthe canary of the degraded fraud build was NOT rolled back with an alert")
    ok = firing is not None and resolved and escalated is not None and canary_ok
    verdict = "delivered, escalated and resolved" if ok else "NOT delivered, escalated, resolved"
    print(f"\n{EXPECTED[0]} for {EXPECTED[1]}: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
