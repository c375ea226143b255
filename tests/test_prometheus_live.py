"""A real Prometheus scraping real services: slo and counter on the test broker, traffic from
the SDK, Debian's Prometheus with the shipped rules (scrape and evaluation every second).

Asserted through Prometheus's HTTP API, waiting on it (never a sleep): every query of the
slo and counter dashboards returns data, the shipped rule groups load with health ok, and
HighLatencyP99 fires for the degraded model only.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from confluent_kafka import Producer

from watchkeeper.sdk import Emitter

from .helpers import scrape, wait_for
from .prometheus_support import ROOT, RULES, PrometheusServer, grafana_expr

pytestmark = pytest.mark.kafka
BOARDS = ROOT / "deploy" / "grafana" / "dashboards"
SERVICES = ("slo", "counter")


def traffic(emitter: Emitter, stop: threading.Event) -> None:
    """fraud answers in ~20 ms (one in 20 fails, one in 10 from a fallback); search in
    ~900 ms: above HighLatencyP99's 500 ms."""
    i = 0
    while not stop.is_set():
        for _ in range(10):
            emitter.prediction(
                model="fraud",
                version="3",
                latency_ms=15.0 + i % 10,
                status="ERROR" if i % 20 == 0 else "OK",
                fallback_used=i % 10 == 1,
            )
            emitter.prediction(model="search", version="7", latency_ms=900.0 + i % 50)
            i += 1
        emitter.telemetry(
            host="h1", model="fraud", version="3", cpu_utilization=0.5, memory_utilization=0.4
        )
        emitter.flush(10)
        stop.wait(0.1)  # pacing the traffic (about 200 events/s), not synchronisation


def test_prometheus_scrapes_the_services_queries_return_data_and_the_rules_fire(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    started = time.monotonic()
    slo = start_service(
        "services.slo",
        prefix,
        WK_SLO_WINDOW_S="2",
        WK_SLO_GRACE_S="1",
        WK_SLO_IDLE_S="2",
        WK_INSTANCE_ID=f"prom-{prefix}",
    )
    counter = start_service("services.counter", prefix)
    services = {"slo": slo, "counter": counter}
    prometheus = PrometheusServer.start(
        tmp_path / "prometheus",
        {name: f"127.0.0.1:{s.http_port}" for name, s in services.items()},
        RULES,
    )
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-prom")
    stop = threading.Event()
    sender = threading.Thread(target=traffic, args=(emitter, stop), daemon=True)
    sender.start()
    try:
        # Rare events, so that their panels have data too: a message that is not an event
        # (a dead letter in both services), and a prediction too late for its window.
        wait_for(
            lambda: slo.metric_sum("wk_slo_windows_closed_total", model="fraud") >= 1,
            what="slo closed its first window",
        )
        raw = Producer({"bootstrap.servers": kafka_settings.bootstrap_servers})
        raw.produce(prefix + "predictions", b"not an event", key=b"fraud")
        assert raw.flush(30) == 0
        emitter.prediction(
            model="fraud",
            version="3",
            latency_ms=10.0,
            event_time_ms=int(time.time() * 1000) - 60_000,
        )

        exprs = {(name, expr) for name in SERVICES for expr in _queries(BOARDS / f"{name}.json")}
        empty: set[tuple[str, str]] = set(exprs)

        def all_have_data() -> bool:
            for item in sorted(empty):
                if prometheus.query(grafana_expr(item[1])):
                    empty.discard(item)
            return not empty

        try:
            wait_for(all_have_data, timeout=120, what="every dashboard query returns data")
        except AssertionError:
            raise AssertionError(f"dashboard queries without data: {sorted(empty)}") from None
        print(f"{len(exprs)} dashboard queries of {', '.join(SERVICES)} return data")

        groups = prometheus.api("rules")["groups"]
        assert {g["name"] for g in groups} == {
            "watchkeeper-slo-recording",
            "watchkeeper-slo-alerts",
        }
        rules = [r for g in groups for r in g["rules"]]
        assert len(rules) == 21
        assert {r["health"] for r in rules} == {"ok"}, [r for r in rules if r["health"] != "ok"]

        def firing() -> list[dict]:
            return [
                a
                for a in prometheus.api("alerts")["alerts"]
                if a["labels"]["alertname"] == "HighLatencyP99" and a["state"] == "firing"
            ]

        alerts = wait_for(firing, timeout=120, what="HighLatencyP99 firing in Prometheus")
        assert {(a["labels"]["model"], a["labels"]["severity"]) for a in alerts} == {
            ("search", "page")
        }
        assert "p99 latency" in alerts[0]["annotations"]["summary"]
        print(f"alert firing {time.monotonic() - started:.1f} s after the services started")
    finally:
        stop.set()
        sender.join(30)
        emitter.close(30)
        prometheus.stop()


def _queries(path) -> list[str]:
    from watchkeeper.devstack.dashboards import queries

    return queries(json.loads(path.read_text()))


def _series(process, name: str) -> list[dict[str, str]]:
    return [dict(pairs) for (metric, pairs), _ in scrape(process.url + "/metrics").items()
            if metric == name]  # fmt: skip


def _lag_partitions(process, topic: str) -> set[str]:
    return {
        s["partition"] for s in _series(process, "wk_consumer_lag_records") if s["topic"] == topic
    }


def _gauge_models(process) -> set[str]:
    return {s["model"] for s in _series(process, "wk_slo_latency_ms")}


def test_a_rebalance_moves_lag_and_gauges_to_the_new_owner(
    kafka_settings, prefix, start_service
) -> None:
    """Two slo instances share the partitions: each exports lag and per-series gauges for
    the partitions it owns only (the loser removed them on revoke, no stale series)."""
    env = {"WK_SLO_WINDOW_S": "2", "WK_SLO_GRACE_S": "1", "WK_SLO_IDLE_S": "2"}
    topic = prefix + "predictions"
    models = [f"m{i}" for i in range(24)]  # keyed by model: spread over the 6 partitions
    first = start_service("services.slo", prefix, WK_INSTANCE_ID=f"a-{prefix}", **env)
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-prom-rebalance")
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            for model in models:
                emitter.prediction(model=model, version="1", latency_ms=20.0)
            emitter.flush(10)
            stop.wait(0.2)  # pacing, not synchronisation

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        wait_for(
            lambda: len(_lag_partitions(first, topic)) == 6 and _gauge_models(first) == set(models),
            what="the first instance owns every partition and exports every model",
        )
        second = start_service("services.slo", prefix, WK_INSTANCE_ID=f"b-{prefix}", **env)

        def split() -> bool:
            a, b = _lag_partitions(first, topic), _lag_partitions(second, topic)
            ma, mb = _gauge_models(first), _gauge_models(second)
            return bool(
                a and b and not a & b and len(a | b) == 6 and ma and mb and not ma & mb
                and ma | mb == set(models)
            )  # fmt: skip

        wait_for(split, timeout=120, what="lag and gauges split between the two instances")
        a, b = _lag_partitions(first, topic), _lag_partitions(second, topic)
        print(f"after the rebalance: partitions {sorted(a)} | {sorted(b)}")
    finally:
        stop.set()
        sender.join(30)
        emitter.close(30)
