"""The registry at 10,000 models x 10 versions: command throughput, reads, replay, impact.

Through the real service and its HTTP API: 1,000 sources, 10,000 datasets (one per model,
each derived from one source), 10,000 models and 100,000 versions trained on them, sent by
64 concurrent clients. The same commands against a registry writing one transaction per
command (``WK_REGISTRY_BATCH_MAX=1``, 3,000 commands) are the baseline the group commit
is measured against, in the same run. Then 5,000 reads of random versions, a restart
(replay of the whole history, timed by the service), and 1,000 impact queries over HTTP
from random sources (the first of them waits for the lineage graph, built after the
replay); last, the in-memory graph of 100,000 nodes (``lineage_graph``).

Writes ``loadtest/results/registry.json``: commands_per_s, read_p99_ms,
replay_events_per_s, impact_p99_ms, lineage_nodes, and more beside them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from watchkeeper import topic_admin
from watchkeeper.devstack import ServiceProcess
from watchkeeper.settings import KafkaSettings

from . import lineage_graph
from .harness import latency_table, percentile, table, write_results

# WK_BENCH_REGISTRY_MODELS scales the run down for a quick look (the figures the issue
# asks for are at the default).
MODELS = int(os.environ.get("WK_BENCH_REGISTRY_MODELS", "10000"))
VERSIONS, SOURCES = 10, max(1, MODELS // 10)
BASELINE_COMMANDS = 3_000
CONCURRENCY = 64
TOKEN = "bench-admin-token-0123456789"


def commands(models: int, versions: int) -> list[tuple[str, str, dict]]:
    """(method, path, body) in an order that keeps each model's prerequisites first."""
    plan: list[tuple[str, str, dict]] = []
    for m in range(models):
        source = f"s3://lake/raw/t{m % SOURCES}"
        dataset = {"name": f"features-{m}", "version": "1", "source": source, "row_count": 1000}
        plan.append(("POST", "/api/v1/datasets", dataset))
        plan.append(("POST", "/api/v1/models", {"name": f"m{m}", "owner_team": f"t{m % 50}"}))
    for v in range(versions):
        for m in range(models):
            plan.append(("POST", f"/api/v1/models/m{m}/versions", {
                "version": f"{v}.0", "metrics": {"auc": 0.7 + v / 100},
                "training_datasets": [{"name": f"features-{m}", "version": "1"}],
                "params": {"depth": str(v)},
            }))  # fmt: skip
    return plan


async def send_all(url: str, plan: list[tuple[str, str, dict]]) -> float:
    """Commands/s with CONCURRENCY clients, each command retried with its key on 503.
    aiohttp's client, not httpx's: httpx's async pool costs more CPU than the registry."""
    import aiohttp

    queue: asyncio.Queue = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as c:

        async def worker() -> None:
            while not queue.empty():
                method, path, body = queue.get_nowait()
                key = uuid.uuid4().hex
                while True:
                    async with c.request(
                        method, path, json=body, headers={"Idempotency-Key": key}
                    ) as r:
                        text = await r.text()
                        if r.status != 503:
                            break
                if r.status >= 300:
                    raise RuntimeError(f"{path}: {r.status} {text}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return len(plan) / (time.perf_counter() - start)


def timed_gets(url: str, paths: list[str]) -> list[float]:
    samples = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        for path in paths:
            start = time.perf_counter()
            r = c.get(path)
            samples.append((time.perf_counter() - start) * 1000)
            r.raise_for_status()
    return sorted(samples)


def start(bootstrap: str, prefix: str, log: Path, **env: str) -> ServiceProcess:
    service = ServiceProcess(
        "services.registry",
        {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "WK_TOPIC_PREFIX": prefix,
         "WK_REGISTRY_API_TOKENS": f"bench admin {TOKEN}", "WK_LOG_LEVEL": "INFO", **env},
        log,
    )  # fmt: skip
    service.wait_healthy(600)
    return service


def logged(log: Path, msg: str) -> dict:
    """The last log line of the service with this message (the replay's 'ready', the
    lineage graph's 'built')."""
    for line in reversed(log.read_text().splitlines()):
        if f'"msg": "{msg}"' in line:
            return json.loads(line)
    raise RuntimeError(f"no {msg!r} line in {log}")


def run(bootstrap: str) -> dict[str, float]:
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    work = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    base_prefix, prefix = f"b{uuid.uuid4().hex[:8]}.", f"r{uuid.uuid4().hex[:8]}."
    for p in (base_prefix, prefix):
        topic_admin.apply(settings, prefix=p)
    baseline = start(bootstrap, base_prefix, work / "baseline.log", WK_REGISTRY_BATCH_MAX="1")
    try:
        per_command = asyncio.run(send_all(baseline.url, commands(BASELINE_COMMANDS // 11, 10)))
    finally:
        baseline.stop()
    log = work / "registry.log"
    service = start(bootstrap, prefix, log)
    try:
        plan = commands(MODELS, VERSIONS)
        grouped = asyncio.run(send_all(service.url, plan))
        rng = random.Random(3)
        reads = timed_gets(
            service.url,
            [f"/api/v1/models/m{rng.randrange(MODELS)}/versions/{rng.randrange(VERSIONS)}.0"
             for _ in range(5_000)],
        )  # fmt: skip
    finally:
        service.stop()
    service = start(bootstrap, prefix, log)
    try:
        ready = logged(log, "ready")
        events, replay_s = int(ready["events"]), float(ready["replay_s"])
        impacts = timed_gets(
            service.url,
            [f"/api/v1/lineage/impact?nodeId=dataset:s3://lake:raw/t{rng.randrange(SOURCES)}"
             for _ in range(1_000)],
        )  # fmt: skip
        lineage_build_s = float(logged(log, "built")["took_s"])
    finally:
        service.stop()
    graph = lineage_graph.run()
    figures = {
        "commands_per_s": grouped,
        "commands_per_s_one_transaction_each": per_command,
        "group_commit_ratio": grouped / per_command,
        "commands": float(len(plan)),
        "read_p50_ms": percentile(reads, 0.5),
        "read_p99_ms": percentile(reads, 0.99),
        "replay_events": float(events),
        "replay_s": replay_s,
        "replay_events_per_s": events / replay_s,
        "lineage_build_s": lineage_build_s,
        "impact_http_p50_ms": percentile(impacts, 0.5),
        "impact_http_p99_ms": percentile(impacts, 0.99),
        "impact_p50_ms": graph["impact_p50_ms"],
        "impact_p99_ms": max(graph["impact_p99_ms"], graph["impact_hub_p99_ms"]),
        "lineage_nodes": graph["lineage_nodes"],
        "lineage_p99_ms": graph["lineage_p99_ms"],
    }
    print(
        table(
            f"registry: {len(plan):,} commands by {CONCURRENCY} clients",
            ["commands/s", "one txn each", "ratio", "replay ev/s", "replayed"],
            [[grouped, per_command, f"{grouped / per_command:.1f}x",
              figures["replay_events_per_s"], events]],
        )
    )  # fmt: skip
    print(latency_table("GET a version over HTTP", reads))
    print(latency_table("impact over HTTP from a source (10 datasets, 100 versions)", impacts))
    goals = (
        f"impact p99 {figures['impact_p99_ms']:.1f} ms at {graph['lineage_nodes']:,.0f} nodes "
        f"(goal < 50), replay {figures['replay_events_per_s']:,.0f} events/s (goal >= 50,000); "
        f"the lineage graph built {lineage_build_s:.2f} s after the replay"
    )
    print(goals)
    for p in (base_prefix, prefix):
        topic_admin.delete_prefixed(settings, p)
    print(f"-> {write_results('registry', figures)}")
    return figures
