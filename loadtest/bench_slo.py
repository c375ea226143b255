"""slo: throughput beside the raw ceiling, and end-to-end alert latency.

1. The same pre-loaded topic is read twice in this run: by a bare confluent-kafka batch
   consumer that only decodes (the ceiling), then by ``python -m services.slo`` (windows,
   sketches, rules, transactions). Ratio = slo / ceiling.
2. With ``slo``, ``router`` (``group_wait: 0``) and a webhook receiver running, each of N
   models sends normal traffic and then one request slower than the rule's threshold; the
   latency is from that request's emit to the webhook's receipt of its alert.

Writes ``loadtest/results/slo.json``: events_per_s, ceiling_events_per_s, ratio,
alert_latency_p50_ms, alert_latency_p99_ms.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from watchkeeper.devstack import ServiceProcess, WebhookReceiver
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from .harness import latency_table, percentile, write_results
from .throughput import CATEGORIES, EVENTS, FEATURES, fresh_prefix, loading, measure, rate_table

MODELS = 8
ALERTS = 60


def preload(settings: KafkaSettings, prefix: str) -> None:
    now = int(time.time() * 1000) - 120_000  # two minutes of traffic, ending now
    with loading(settings, prefix, "slo") as emitter:
        for i in range(EVENTS):
            emitter.prediction(
                model=f"model-{i % MODELS}",
                version="1",
                latency_ms=5.0 + (i * 7919) % 300,
                status="ERROR" if i % 97 == 0 else "OK",
                num_features=FEATURES,
                cat_features=CATEGORIES,
                event_time_ms=now + i * 120_000 // EVENTS,
            )


ALERT_RULES = """
rules:
  - alert: SlowRequest
    expr: latency_max_ms > 1000
    min_count: 1
    severity: page
"""
ROUTER = """
route:
  receiver: oncall
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: oncall
    webhook_configs:
      - url: {url}/alerts
"""


def alert_latency(bootstrap: str, tmp: Path) -> list[float]:
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    prefix = fresh_prefix(settings)
    receiver = WebhookReceiver().start()
    (tmp / "rules.yaml").write_text(ALERT_RULES)
    (tmp / "router.yaml").write_text(ROUTER.format(url=receiver.url))
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "WK_TOPIC_PREFIX": prefix}
    services = [
        ServiceProcess(
            "services.slo", {**env, "WK_SLO_RULES": str(tmp / "rules.yaml")}, tmp / "slo-alerts.log"
        ),
        ServiceProcess(
            "services.router",
            {**env, "WK_ROUTER_CONFIG": str(tmp / "router.yaml")},
            tmp / "router-alerts.log",
        ),
    ]
    emitter = Emitter(
        settings, prefix=prefix, client_id="bench-slo-alerts", producer_config={"linger.ms": 0}
    )
    try:
        for service in services:
            service.wait_healthy()
        # Warm-up: a first alert through the whole path, not measured.
        sent: dict[str, float] = {}
        for i in range(ALERTS + 1):
            model = f"alerting-{i}"
            for _ in range(5):
                emitter.prediction(model=model, version="1", latency_ms=20.0)
            emitter.flush(5)
            time.sleep(0.05)
            sent[model] = time.time()
            emitter.prediction(model=model, version="1", latency_ms=5000.0)
            emitter.flush(5)
            receiver.wait_for(i + 1, "/alerts", timeout=15)
        latencies = []
        for request in receiver.delivered("/alerts"):
            for alert in request.body["alerts"]:
                model = alert["labels"]["model"]
                if alert["status"] == "firing" and model != "alerting-0":
                    latencies.append((request.at - sent[model]) * 1000)
        return sorted(latencies)
    finally:
        emitter.close(5)
        for service in services:
            service.stop()
        receiver.stop()


def run(kafka_bootstrap: str) -> dict[str, float]:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = fresh_prefix(settings)
    env = {"WK_SLO_IDLE_S": "600", "WK_SLO_MAX_FUTURE_S": "3600"}
    with tempfile.TemporaryDirectory() as tmp:
        preload(settings, prefix)
        figures = measure(settings, prefix, "services.slo", env, Path(tmp) / "slo.log")
        latencies = alert_latency(kafka_bootstrap, Path(tmp))
    title = f"slo: {EVENTS:,} predictions (20 num + 5 cat features, {MODELS} models), one process"
    print(rate_table(title, "services.slo", figures))
    print(
        latency_table("alert latency, crossing event -> webhook received, group_wait 0", latencies)
    )
    figures.update(
        {
            "alert_latency_p50_ms": percentile(latencies, 0.5),
            "alert_latency_p99_ms": percentile(latencies, 0.99),
            "alerts_measured": len(latencies),
        }
    )
    print(f"-> {write_results('slo', figures)}")
    return figures
