"""Prometheus-native metrics without Kafka: the docs table is the registered metrics, /metrics
negotiates OpenMetrics, wk_build_info is set, the slo histogram is observed per prediction
and a revoked partition's gauges stop exporting."""

from __future__ import annotations

import re

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from services.slo import metrics as slo_metrics
from watchkeeper.devstack.metric_catalog import HEADER, table
from watchkeeper.ports import free_port
from watchkeeper.runtime import Health, ServiceHTTP

from .helpers import http_json
from .test_slo_task import T0, Clock, make_task, prediction, run

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "metrics.md"


def _doc_table() -> str:
    text = DOC.read_text()
    start = text.index(HEADER)
    lines = []
    for line in text[start:].splitlines():
        if not line.startswith("|"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_the_docs_table_is_every_registered_metric() -> None:
    expected, documented = table().splitlines(), _doc_table().splitlines()
    missing = sorted(set(expected) - set(documented))
    stale = sorted(set(documented) - set(expected))
    assert not missing and not stale, (
        "docs/metrics.md disagrees with the code (python -m watchkeeper.devstack.metric_catalog "
        f"prints the table):\nmissing {missing}\nstale {stale}"
    )
    assert documented == expected  # the same order too
    names = [re.match(r"\| `([^`]+)`", line).group(1) for line in documented[2:]]
    assert len(names) == len(set(names)) > 100
    for name in ("wk_slo_latency_seconds", "wk_consumer_lag_records", "wk_build_info"):
        assert name in names


@pytest.fixture
def server():
    http = ServiceHTTP(Health("metrics-doc"), port=free_port()).start()
    yield f"http://127.0.0.1:{http.port}/metrics"
    http.stop()


def test_metrics_answer_openmetrics_when_asked_and_text_otherwise(server) -> None:
    om = httpx.get(
        server, headers={"Accept": "application/openmetrics-text; version=1.0.0"}, timeout=5
    )
    assert om.status_code == 200
    assert om.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert om.text.endswith("# EOF\n")
    families = {f.name: f for f in parse_om(om.text)}
    assert families["wk_slo_latency_seconds"].type == "histogram"

    plain = httpx.get(server, timeout=5)
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# EOF" not in plain.text
    # Prometheus's own Accept (2.42) names OpenMetrics first, the text format as fallback.
    prom_accept = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    answer = httpx.get(server, headers={"Accept": prom_accept}, timeout=5)
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    # A garbage Accept header is not an error: the classic format.
    odd = httpx.get(server, headers={"Accept": "\x7f;;;q=zz"}, timeout=5)
    assert odd.status_code == 200 and odd.headers["content-type"].startswith("text/plain")


def test_build_info_names_the_service_and_versions(server) -> None:
    families = {f.name: f for f in parse_text(httpx.get(server, timeout=5).text)}
    samples = [s for s in families["wk_build_info"].samples if s.labels["service"] == "metrics-doc"]
    assert len(samples) == 1 and samples[0].value == 1.0
    labels = samples[0].labels
    assert set(labels) == {"version", "python", "confluent_kafka", "librdkafka", "service"}
    assert all(re.fullmatch(r"\d+\.\d+\.\d+.*", labels[k]) for k in ("python", "librdkafka"))
    assert http_json(server.replace("/metrics", "/healthz"))[0] == 503  # still starting


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_slo_histogram_counts_every_prediction_in_seconds() -> None:
    clock = Clock(T0)
    task = make_task(clock=clock)
    key = {"model": "hist", "version": "1", "variant": "default"}
    events = [prediction(T0 + i, latency=latency, model="hist", version="1")
              for i, latency in enumerate((0.5, 3.0, 40.0, 700.0, 12_000.0))]  # fmt: skip
    events.append(prediction(T0 + 9, latency=8.0, model="hist", version="1", status="ERROR"))
    run(task, clock, events)
    assert _sample("wk_slo_latency_seconds_count", **key) == 6
    assert _sample("wk_slo_latency_seconds_sum", **key) == pytest.approx(12.7515)
    assert _sample("wk_slo_latency_seconds_bucket", **key, le="0.001") == 1
    assert _sample("wk_slo_latency_seconds_bucket", **key, le="0.01") == 3
    assert _sample("wk_slo_latency_seconds_bucket", **key, le="1.0") == 5
    assert _sample("wk_slo_latency_seconds_bucket", **key, le="30.0") == 6
    assert _sample("wk_slo_predictions_total", **key, outcome="error") == 1
    assert _sample("wk_slo_predictions_total", **key, outcome="ok") == 5


def test_a_revoked_slo_partition_stops_exporting_its_gauges() -> None:
    clock = Clock(T0)
    task = make_task(clock=clock)
    run(task, clock, [prediction(T0 + i, model="gone", version="2") for i in range(30)])
    clock.ms = T0 + 60_000
    task.tick(clock.ms)  # closes the window: its gauges are published
    gauge = {"model": "gone", "version": "2", "variant": "default", "region": ""}
    assert _sample("wk_slo_latency_ms", **gauge, view="window", quantile="0.99") is not None
    assert _sample("wk_slo_error_rate", **gauge, view="1m") is not None

    task.revoked()
    for family in (slo_metrics.LATENCY, slo_metrics.ERROR_RATE, slo_metrics.THROUGHPUT):
        exported = [s for s in family.collect()[0].samples if s.labels.get("model") == "gone"]
        assert exported == []
    # Counters stay: they are not stale values, and rate() needs them monotonic.
    hist = {"model": "gone", "version": "2", "variant": "default"}
    assert _sample("wk_slo_latency_seconds_count", **hist) == 30


@pytest.mark.parametrize(
    "task_module, gauge",
    [("drift", "PENDING"), ("fairness", "PENDING"), ("quality", "RECENT_IDS")],
)
def test_revoked_tasks_drop_their_partition_gauge(task_module, gauge) -> None:
    import importlib
    from types import SimpleNamespace

    module = importlib.import_module(f"services.{task_module}.task")
    metric = getattr(importlib.import_module(f"services.{task_module}.metrics"), gauge)
    task_class = next(v for k, v in vars(module).items() if k.endswith("Task") and k[0] != "_"
                      and v.__module__ == module.__name__)  # fmt: skip
    metric.labels("41").set(3)
    metric.labels("42").set(5)
    task_class.revoked(SimpleNamespace(partition=41))  # the method alone: no config needed
    partitions = {s.labels["partition"] for s in metric.collect()[0].samples}
    assert "41" not in partitions and "42" in partitions
    task_class.revoked(SimpleNamespace(partition=41))  # twice: no error


def test_the_batched_observer_counts_as_observe_does() -> None:
    from prometheus_client import CollectorRegistry, Histogram

    values = [0.0, 0.001, 0.0010001, 0.5, 1.0, 29.999, 30.0, 30.0001, 1e9, *slo_metrics.BUCKETS]
    reference = Histogram("ref_seconds", "", buckets=slo_metrics.BUCKETS,
                          registry=CollectorRegistry())  # fmt: skip
    for v in values:
        reference.observe(v)
    observe = slo_metrics.Observer()
    for v in values:
        observe(("edge", "1", "a", ""), v, ok=True, degraded=False)
    observe.flush()
    ours = {s.labels["le"]: s.value for s in slo_metrics.LATENCY_SECONDS.collect()[0].samples
            if s.labels.get("model") == "edge" and s.name.endswith("_bucket")}  # fmt: skip
    theirs = {s.labels["le"]: s.value for s in reference.collect()[0].samples
              if s.name.endswith("_bucket")}  # fmt: skip
    assert ours == theirs and ours["+Inf"] == len(values)
    assert _sample("wk_slo_latency_seconds_sum", model="edge", version="1", variant="a") == (
        pytest.approx(sum(values))
    )
