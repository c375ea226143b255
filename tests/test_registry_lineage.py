"""Lineage through the running registry: events from the real openlineage-python client
(HTTP and Kafka transports), registry facts, live predictions, and the impact of a
changed source reaching the prediction stream of a model trained on data derived from it."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)
from openlineage.client.transport.kafka import KafkaConfig, KafkaTransport

from tests.registry_support import TOKENS, client, start_registry
from watchkeeper.runtime import compacted
from watchkeeper.sdk import Emitter

pytestmark = pytest.mark.kafka
PRODUCER = "https://github.com/example/etl"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def run_event(namespace: str, job: str, inputs, outputs) -> RunEvent:
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-12-01T10:00:00.000Z",
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace=namespace, name=job),
        producer=PRODUCER,
        inputs=[InputDataset(namespace=n, name=d) for n, d in inputs],
        outputs=[OutputDataset(namespace=n, name=d) for n, d in outputs],
    )


def wait_for(check, timeout_s: float = 60.0, every=None):
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        if every is not None:
            every()
        time.sleep(0.2)  # polling the service


@pytest.fixture
def registry(start_service, prefix, tmp_path):
    return start_registry(start_service, prefix, tmp_path)


def test_openlineage_events_and_live_streams_make_the_impact(
    registry, kafka_settings, prefix
) -> None:
    http = OpenLineageClient(
        transport=HttpTransport(
            HttpConfig(
                url=registry.url,
                auth=ApiKeyTokenProvider({"apiKey": TOKENS["writer"]}),
                compression=HttpCompression.GZIP,
                timeout=10,
            )
        )
    )
    kafka = OpenLineageClient(
        transport=KafkaTransport(
            KafkaConfig(
                topic=prefix + "lineage",
                config={"bootstrap.servers": kafka_settings.bootstrap_servers},
                flush=True,
            )
        )
    )
    # s3://raw/events --ingest (Kafka)--> ledger.transactions --clean (HTTP)--> tx_clean
    kafka.emit(run_event("airflow", "ingest", [("s3://raw", "events")],
                         [("postgres://ledger", "public.transactions")]))  # fmt: skip
    http.emit(run_event("airflow", "clean", [("postgres://ledger", "public.transactions")],
                        [("watchkeeper", "tx_clean")]))  # fmt: skip
    rc = client(registry)
    rc.register_dataset("tx_clean", "1", source="dataset:postgres://ledger:public.transactions")
    rc.create_model("fraud")
    rc.register_version("fraud", "2", training_datasets=[{"name": "tx_clean", "version": "1"}])
    rc.record_validation("fraud", "2", passed=True)
    rc.set_alias("fraud", "champion", "2", reason="first")

    source = "dataset:s3://raw:events"
    reader = client(registry, "reader")
    wait_for(lambda: "version:fraud:2" in reader.get("/api/v1/lineage/impact", nodeId=source)
             .get("versions", []) if _known(reader, source) else None)  # fmt: skip

    sdk = Emitter(kafka_settings, prefix=prefix, client_id="it-registry")

    def emit_some() -> None:
        for _ in range(20):
            sdk.prediction(model="fraud", version="2", latency_ms=3.0, label="ok")
        sdk.flush(10)

    impact = wait_for(
        lambda: (i := reader.get("/api/v1/lineage/impact", nodeId=source))["streams"] and i,
        every=emit_some,
    )
    sdk.close(10)
    assert impact["datasets"] == [
        "dataset:postgres://ledger:public.transactions",
        "dataset:watchkeeper:tx_clean",
    ]
    assert impact["versions"] == ["version:fraud:2"]
    assert impact["aliases"] == ["alias:fraud@champion"]
    [stream] = impact["streams"]
    assert (stream["id"], stream["model"], stream["version"]) == ("stream:fraud:2", "fraud", "2")
    assert stream["rate_per_s"] > 0
    assert stream["last_seen_ms"] > time.time() * 1000 - 120_000

    # Marquez's shape: nodes with their in and out edges.
    graph = reader.get("/api/v1/lineage", nodeId="job:airflow:clean", depth=1)["graph"]
    by_id = {node["id"]: node for node in graph}
    assert by_id["job:airflow:clean"]["inEdges"] == [
        {"origin": "dataset:postgres://ledger:public.transactions",
         "destination": "job:airflow:clean"}
    ]  # fmt: skip
    assert by_id["job:airflow:clean"]["outEdges"] == [
        {"origin": "job:airflow:clean", "destination": "dataset:watchkeeper:tx_clean"}
    ]
    # The registry told the lineage topic of its own acts, in their transactions.
    own = [
        json.loads(r.value)
        for r in compacted.read(kafka_settings, prefix + "lineage", 30)
        if b"urn:watchkeeper:registry" in r.value
    ]
    assert sorted({e["job"]["name"] for e in own}) == [
        "registry.register_dataset", "registry.register_version", "registry.set_alias",
    ]  # fmt: skip
    assert len(own) == 6  # a START and a COMPLETE per act, once each


def _known(reader, node: str) -> bool:
    try:
        reader.get("/api/v1/lineage/impact", nodeId=node)
    except Exception:
        return False
    return True


def test_invalid_openlineage_events_are_refused_or_dead_lettered(
    registry, kafka_settings, prefix
) -> None:
    bad = {"eventTime": "2026-12-01T10:00:00Z", "producer": PRODUCER, "schemaURL": SCHEMA,
           "run": {}, "job": {"namespace": "n", "name": "j"}}  # fmt: skip
    response = httpx.post(
        registry.url + "/api/v1/lineage",
        json=bad,
        headers={"Authorization": f"Bearer {TOKENS['writer']}"},
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("run.runId")
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": kafka_settings.bootstrap_servers})
    producer.produce(prefix + "lineage", json.dumps(bad).encode(), b"bad")
    producer.produce(prefix + "lineage", b"\xff not json", b"junk")
    assert producer.flush(10) == 0

    def letters():
        found = [r for r in compacted.read(kafka_settings, prefix + "dlq", 30)]
        return found if len(found) >= 2 else None

    found = wait_for(letters)
    assert sorted(r.key for r in found) == [b"bad", b"junk"]
    assert client(registry, "admin").dump()["events"] == 0
