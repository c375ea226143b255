"""The registry's lineage graph at 100,000 nodes: impact and lineage(depth=3) latencies.

The graph is shaped as a company's would be: 50 domains, each with its raw sources, ingest
jobs writing staging datasets, feature jobs writing registry datasets, models whose
versions train on that domain's features, two aliases per model and a prediction stream
for the live versions; one read in twenty crosses into another domain. Every stream has
a minute of observations, so impact pays for its rates as the service would.

Impact runs from 1,000 random sources and datasets, then 20 times from each of the ten of
those that reach the most (the worst case); lineage(depth=3) from 1,000 random nodes of
any kind (the same seeds every run). The goal (issue 12) is impact p99 < 50 ms.

Writes ``loadtest/results/lineage.json``; ``run()`` returns the figures: impact_p50_ms,
impact_p99_ms, lineage_nodes (the graph's size), lineage_p99_ms, and more beside them.
"""

from __future__ import annotations

import random
import statistics
import time

from services.registry.lineage.feed import (
    alias_moved,
    dataset_registered,
    stream_seen,
    version_registered,
)
from services.registry.lineage.graph import LineageGraph
from services.registry.lineage.ids import dataset_id, job_id

from .harness import latency_table, percentile, write_results

DOMAINS = 50
PER_DOMAIN = {
    "sources": 40,
    "ingest_jobs": 120,
    "staging": 300,
    "feature_jobs": 120,
    "features": 300,
    "models": 20,
    "versions_per_model": 40,
    "live_per_model": 13,
}
QUERIES = 1_000
NOW_MS = 1_800_000_000_000


def build(seed: int = 12) -> tuple[LineageGraph, list[str]]:
    """The graph and its sources and datasets (the impact queries' starting points)."""
    rng = random.Random(seed)
    g = LineageGraph()
    p = PER_DOMAIN
    sources = [
        [dataset_id(f"s3://lake-{d}", f"raw/t{i}") for i in range(p["sources"])]
        for d in range(DOMAINS)
    ]
    staging = [
        [dataset_id(f"warehouse-{d}", f"stg.t{i}") for i in range(p["staging"])]
        for d in range(DOMAINS)
    ]
    features = [[f"dom{d}.features{i}" for i in range(p["features"])] for d in range(DOMAINS)]

    def pick(layer: list[list[str]], domain: int) -> str:
        # Mostly from its own domain, a popular table more often than a rare one.
        d = rng.randrange(DOMAINS) if rng.random() < 0.05 else domain
        tables = layer[d]
        return tables[int(len(tables) * rng.random() ** 2)]

    for d in range(DOMAINS):
        for source in sources[d]:
            g.add_node(source, {"source": True})
        outs = iter(staging[d])
        for j in range(p["ingest_jobs"]):
            job = job_id(f"airflow-{d}", f"ingest.{j}")
            for _ in range(rng.randint(1, 3)):
                g.add_edge(pick(sources, d), job)
            for _ in range(p["staging"] // p["ingest_jobs"] + (j % 2)):
                out = next(outs, None)
                if out is not None:
                    g.add_edge(job, out)
        for rest in outs:  # every staging table has a writer
            g.add_edge(job_id(f"airflow-{d}", f"ingest.{rng.randrange(p['ingest_jobs'])}"), rest)
        for j, name in enumerate(features[d]):
            job = job_id(f"spark-{d}", f"features.{j % p['feature_jobs']}")
            if j < p["feature_jobs"]:
                for _ in range(rng.randint(2, 4)):
                    g.add_edge(pick(staging, d), job)
            dataset_registered(g, name, "1", source=job)
        for m in range(p["models"]):
            model = f"dom{d}.model{m}"
            trained_on = [pick(features, d) for _ in range(3)]
            for v in range(p["versions_per_model"]):
                if rng.random() < 0.3:  # a retrain picks up another table now and then
                    trained_on[rng.randrange(3)] = pick(features, d)
                version_registered(
                    g, model, str(v), [{"name": n, "version": "1"} for n in trained_on]
                )
            live = range(p["versions_per_model"] - p["live_per_model"], p["versions_per_model"])
            for v in live:
                for second in range(0, 60, 5):
                    stream_seen(
                        g, model, str(v), rng.randint(1, 50), NOW_MS - 60_000 + second * 1000
                    )
            alias_moved(g, model, "champion", str(live[-1]))
            alias_moved(g, model, "challenger", str(live[-2]))
    starts = [n for layer in (sources, staging) for domain in layer for n in domain]
    starts += [dataset_id("watchkeeper", n) for domain in features for n in domain]
    return g, starts


def _timed(fn, args: list) -> tuple[list[float], list[int]]:
    ms, sizes = [], []
    clock = time.perf_counter_ns
    for a in args:
        start = clock()
        answer = fn(a)
        ms.append((clock() - start) / 1e6)
        sizes.append(answer)
    return ms, sizes


def run(kafka_bootstrap: str | None = None) -> dict[str, float]:
    start = time.perf_counter()
    g, starts = build()
    build_s = time.perf_counter() - start
    rng = random.Random(7)
    nodes = g.nodes()
    impact_from = [rng.choice(starts) for _ in range(QUERIES)]
    lineage_from = [rng.choice(nodes) for _ in range(QUERIES)]

    def impact(n: str) -> int:
        answer = g.impact(n, now_ms=NOW_MS)
        return sum(len(v) for v in answer.values())

    def lineage(n: str) -> int:
        return len(g.lineage(n, depth=3, now_ms=NOW_MS)["graph"])

    impact_ms, reached = _timed(impact, impact_from)
    lineage_ms, returned = _timed(lineage, lineage_from)
    impact_ms.sort()
    lineage_ms.sort()
    # The worst case: the ten starts that reach the most (a domain's popular raw tables).
    hubs = sorted(set(impact_from), key=lambda n: (-reached[impact_from.index(n)], n))[:10]
    hub_ms, hub_reached = _timed(impact, [h for h in hubs for _ in range(20)])
    hub_ms.sort()
    figures = {
        "impact_p50_ms": percentile(impact_ms, 0.5),
        "impact_p99_ms": percentile(impact_ms, 0.99),
        "impact_max_ms": impact_ms[-1],
        "impact_mean_reached": statistics.fmean(reached),
        "impact_max_reached": float(max(reached)),
        "impact_hub_p99_ms": percentile(hub_ms, 0.99),
        "impact_hub_mean_reached": statistics.fmean(hub_reached),
        "lineage_nodes": float(len(g)),
        "lineage_edges": float(g.edge_count()),
        "lineage_p50_ms": percentile(lineage_ms, 0.5),
        "lineage_p99_ms": percentile(lineage_ms, 0.99),
        "lineage_depth3_mean_nodes": statistics.fmean(returned),
        "build_s": build_s,
    }
    print(f"lineage: {len(g):,} nodes, {g.edge_count():,} edges, built in {build_s:.1f} s")
    for title, samples in (
        (
            f"impact from sources and datasets (mean {figures['impact_mean_reached']:.0f} reached)",
            impact_ms,
        ),
        (
            f"impact from the 10 widest (mean {figures['impact_hub_mean_reached']:.0f} reached)",
            hub_ms,
        ),
        (f"lineage depth=3 (mean {figures['lineage_depth3_mean_nodes']:.0f} nodes)", lineage_ms),
    ):
        print(latency_table(title, samples))
    worst = max(figures["impact_p99_ms"], figures["impact_hub_p99_ms"])
    verdict = "meets" if worst < 50 else "MISSES"
    print(f"impact p99 {worst:.2f} ms at worst: {verdict} the goal (< 50 ms at 100,000 nodes)")
    print(f"-> {write_results('lineage', figures)}")
    return figures


main = run

if __name__ == "__main__":
    run()
