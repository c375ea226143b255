"""cost: throughput beside the raw ceiling, and how fast a hard cap reaches a gateway.

1. The same pre-loaded topic is read twice in this run: by a bare confluent-kafka batch
   consumer that only decodes (the ceiling), then by ``python -m services.cost`` (pricing
   by tokens, compute share or explicit cost, spend per scope through cost-spend, the
   ledger and budgets, advice, transactions). Ratio = cost / ceiling.
2. With ``cost`` running and a daily budget per tenant with a cap, N tenants each send one
   request that costs more than the cap; the latency is from that request's emit to its
   EXCEEDED state on ``cost-quotas`` (what an inference gateway reads).

Writes ``loadtest/results/cost.json``: events_per_s, ceiling_events_per_s, ratio,
quota_latency_p50_ms, quota_latency_p99_ms.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer

from watchkeeper.codec import Codec
from watchkeeper.devstack import ServiceProcess
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from .harness import latency_table, percentile, write_results
from .throughput import CATEGORIES, EVENTS, FEATURES, fresh_prefix, loading, measure, rate_table

MODELS = 8
QUOTAS = 30
COST_FILE = """
llm:
  gpt-4o-mini: {input: 0.15, output: 0.60, cached: 0.075}
  gemini-2.5-pro:
    input: 1.25
    output: 10.0
    cached: 0.31
    tiers: [{above: 200000, input: 2.5, output: 15.0, cached: 0.625}]
budgets:
  - {name: everything, monthly: 100000}
  - {name: per-model, per: [model], daily: 500}
  - {name: per-tenant, per: [tenant], daily: 50, cap: 1}
"""


def preload(settings: KafkaSettings, prefix: str) -> None:
    """Half the models are LLMs (priced by tokens), half are priced by compute from
    telemetry; 20 tenants, 500 users, 3 use cases, 2 regions, repeated inputs."""
    now = int(time.time() * 1000) - 120_000  # two minutes of traffic, ending now
    with loading(settings, prefix, "cost") as emitter:
        for m in range(MODELS):
            for second in range(0, 121, 15):
                emitter.telemetry(
                    host=f"node-{m}",
                    model=f"model-{m}",
                    version="1",
                    replicas=2,
                    hourly_price_usd=1.006,
                    event_time_ms=now + second * 1000,
                )
        for i in range(EVENTS):
            model = i % MODELS
            llm = None
            if model % 2:
                llm = {
                    "provider_model": "gpt-4o-mini" if model % 4 == 1 else "gemini-2.5-pro",
                    "tokens_in": 800 + i % 400,
                    "tokens_out": 150 + i % 90,
                    "tokens_cached": 256 if i % 3 == 0 else 0,
                }
            emitter.prediction(
                model=f"model-{model}",
                version="1",
                latency_ms=5.0 + (i * 7919) % 300,
                status="ERROR" if i % 97 == 0 else "OK",
                num_features=FEATURES,
                cat_features=CATEGORIES,
                region=("eu-west-1", "us-east-1")[i % 2],
                tenant=f"tenant-{i % 20}",
                user_id=f"user-{i % 500}",
                use_case=("chat", "search", "summary")[i % 3],
                llm=llm,
                input_hash=f"h{i % 5000}",
                event_time_ms=now + i * 120_000 // EVENTS,
            )


def cost_env(tmp: Path) -> dict[str, str]:
    path = tmp / "cost.yaml"
    path.write_text(COST_FILE)
    return {
        "WK_COST_CONFIG": str(path),
        "WK_COST_MAX_FUTURE_S": "3600",
        "WK_INSTANCE_ID": f"bench-{uuid.uuid4().hex[:6]}",
    }


def quota_latency(bootstrap: str, tmp: Path) -> list[float]:
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    prefix = fresh_prefix(settings)
    codec = Codec()
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "WK_TOPIC_PREFIX": prefix, **cost_env(tmp)}
    cost = ServiceProcess("services.cost", env, tmp / "cost-quota.log")
    reader = Consumer(
        settings.confluent(
            **{
                "group.id": f"bench-gateway-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 10,
            }
        )
    )
    reader.subscribe([prefix + "cost-quotas"])
    emitter = Emitter(
        settings, prefix=prefix, client_id="bench-cost-quota", producer_config={"linger.ms": 0}
    )
    latencies = []
    try:
        cost.wait_healthy()
        for i in range(QUOTAS + 1):  # the first is a warm-up, not measured
            sent = time.time()
            emitter.prediction(
                model="chat", version="1", latency_ms=900.0, tenant=f"t{i}", cost_usd=2.0
            )
            emitter.flush(5)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                message = reader.poll(0.01)
                if message is None or message.error():
                    continue
                state = codec.decode_as("QuotaState", message.value())
                if state["labels"].get("tenant") == f"t{i}" and state["state"] == "EXCEEDED":
                    if i:
                        latencies.append((time.time() - sent) * 1000)
                    break
        return sorted(latencies)
    finally:
        emitter.close(5)
        reader.close()
        cost.stop()


def run(kafka_bootstrap: str) -> dict[str, float]:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = fresh_prefix(settings)
    with tempfile.TemporaryDirectory() as tmp:
        preload(settings, prefix)
        figures = measure(
            settings, prefix, "services.cost", cost_env(Path(tmp)), Path(tmp) / "cost.log"
        )
        latencies = quota_latency(kafka_bootstrap, Path(tmp))
    title = (
        f"cost: {EVENTS:,} predictions (half LLM, half compute; 20 tenants, 500 users, "
        f"{MODELS} models), one process"
    )
    print(rate_table(title, "services.cost", figures))
    print(latency_table("hard cap, crossing request -> EXCEEDED on cost-quotas", latencies))
    figures.update(
        {
            "quota_latency_p50_ms": percentile(latencies, 0.5),
            "quota_latency_p99_ms": percentile(latencies, 0.99),
            "quotas_measured": len(latencies),
        }
    )
    print(f"-> {write_results('cost', figures)}")
    return figures
