"""OpenLineage events: the real client's events validate and map; bad ones name the field.

Events are built with ``openlineage.client`` classes and serialized as its transports do
(``Serde.to_json``); one goes through the client's own HTTP transport, gzip on, to a real
HTTP server that answers with ``parse_body``'s verdict.
"""

from __future__ import annotations

import copy
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import (
    nominal_time_run,
    parent_run,
    schema_dataset,
    sql_job,
)
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpCompression, HttpConfig, HttpTransport

from services.registry.lineage import emit
from services.registry.lineage.graph import LineageGraph
from services.registry.lineage.openlineage import (
    MAX_BODY_BYTES,
    MAX_STRING,
    PRODUCER,
    InvalidEvent,
    apply_event,
    check_event,
    parse_body,
    run_event,
)
from watchkeeper.ports import free_port

RUN_ID = "0b5e9f2a-1c1d-4f55-8c2b-6d2a2f7e0c11"
PARENT_ID = "7d1c4e2b-8f3a-4b6c-9d0e-1f2a3b4c5d6e"
TIME = "2026-03-01T12:00:00.000Z"


def client_run_event(event_type=RunState.COMPLETE, time=TIME) -> RunEvent:
    schema = schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name="user_id", type="BIGINT"),
            schema_dataset.SchemaDatasetFacetFields(name="clicks", type="INT"),
        ]
    )
    return RunEvent(
        eventType=event_type,
        eventTime=time,
        run=Run(
            runId=RUN_ID,
            facets={
                "nominalTime": nominal_time_run.NominalTimeRunFacet(
                    nominalStartTime="2026-03-01T11:00:00Z"
                ),
                "parent": parent_run.ParentRunFacet(
                    run=parent_run.Run(runId=PARENT_ID),
                    job=parent_run.Job(namespace="airflow", name="daily"),
                ),
            },
        ),
        job=Job(
            namespace="airflow",
            name="daily.clicks",
            facets={"sql": sql_job.SQLJobFacet(query="SELECT user_id, count(*) FROM raw")},
        ),
        inputs=[InputDataset(namespace="s3://lake", name="raw/clicks", facets={"schema": schema})],
        outputs=[OutputDataset(namespace="watchkeeper", name="clicks")],
        producer="https://github.com/apache/airflow",
    )


def wire(event) -> dict:
    """The event as the client's transports put it on the wire."""
    return json.loads(Serde.to_json(event))


# -- valid events ---------------------------------------------------------------------


def test_client_run_event_validates_and_maps():
    event = wire(client_run_event())
    assert (
        event["schemaURL"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    )
    assert check_event(event) == "RunEvent"
    graph = LineageGraph()
    assert apply_event(graph, event) == {
        "kind": "RunEvent",
        "job": "job:airflow:daily.clicks",
        "inputs": ["dataset:s3://lake:raw/clicks"],
        "outputs": ["dataset:watchkeeper:clicks"],
    }
    assert graph.out_edges("dataset:s3://lake:raw/clicks") == ["job:airflow:daily.clicks"]
    assert graph.out_edges("job:airflow:daily.clicks") == ["dataset:watchkeeper:clicks"]
    assert graph.attrs("job:airflow:daily.clicks") == {
        "namespace": "airflow",
        "name": "daily.clicks",
        "last_run_id": RUN_ID,
        "state": "COMPLETE",
        "last_event_time": TIME,
        "last_event_time_ms": 1772366400000,
    }
    assert graph.attrs("dataset:s3://lake:raw/clicks") == {
        "namespace": "s3://lake",
        "name": "raw/clicks",
    }


def test_an_older_event_does_not_undo_a_newer_state():
    graph = LineageGraph()
    apply_event(graph, wire(client_run_event(RunState.COMPLETE, "2026-03-01T12:05:00Z")))
    apply_event(graph, wire(client_run_event(RunState.START, "2026-03-01T12:00:00Z")))
    assert graph.attrs("job:airflow:daily.clicks")["state"] == "COMPLETE"
    apply_event(graph, wire(client_run_event(RunState.FAIL, "2026-03-01T12:06:00+00:00")))
    assert graph.attrs("job:airflow:daily.clicks")["state"] == "FAIL"


def test_client_dataset_and_job_events():
    dataset_event = wire(
        DatasetEvent(
            eventTime=TIME,
            dataset=StaticDataset(namespace="postgres://db:5432", name="shop.public.orders"),
            producer="https://github.com/apache/airflow",
        )
    )
    job_event = wire(
        JobEvent(
            eventTime=TIME,
            job=Job(namespace="dbt", name="orders_daily"),
            inputs=[InputDataset(namespace="postgres://db:5432", name="shop.public.orders")],
            outputs=[OutputDataset(namespace="watchkeeper", name="orders")],
            producer="https://github.com/dbt-labs/dbt-core",
        )
    )
    assert (check_event(dataset_event), check_event(job_event)) == ("DatasetEvent", "JobEvent")
    graph = LineageGraph()
    assert apply_event(graph, dataset_event)["outputs"] == [
        "dataset:postgres://db:5432:shop.public.orders"
    ]
    apply_event(graph, job_event)
    assert graph.downstream("dataset:postgres://db:5432:shop.public.orders", depth=None) == [
        {"id": "job:dbt:orders_daily", "type": "JOB", "distance": 1},
        {"id": "dataset:watchkeeper:orders", "type": "DATASET", "distance": 2},
    ]
    assert "last_run_id" not in graph.attrs("job:dbt:orders_daily")


def test_our_own_events_are_valid_and_left_off_our_graph():
    events = [
        *emit.version_registered_events("ctr", "7", [{"name": "clicks", "version": "4"}], [], 1),
        *emit.alias_moved_events("ctr", "champion", "7", 2),
        *emit.dataset_registered_events("clicks", "4", "s3://lake/raw/clicks", 3),
    ]
    assert [check_event(e) for e in events] == ["RunEvent"] * 6
    assert all(e["producer"] == PRODUCER for e in events)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 3
    assert events[5]["inputs"] == [{"namespace": "s3://lake", "name": "raw/clicks"}]
    graph = LineageGraph()
    assert apply_event(graph, events[1])["kind"] == "own"
    assert len(graph) == 0


def test_registry_namespaces_land_on_version_and_alias_nodes():
    # A training pipeline that names its model output the registry's way links to the version.
    event = run_event(
        ("mlflow", "train.ctr"),
        [("watchkeeper", "clicks")],
        [("watchkeeper-models", "ctr:7")],
        run_id="train-ctr-7",
        event_type="COMPLETE",
        event_time=1_772_366_400_000,
        producer="https://github.com/mlflow/mlflow",
    )
    check_event(event)
    graph = LineageGraph()
    apply_event(graph, event)
    assert graph.out_edges("job:mlflow:train.ctr") == ["version:ctr:7"]


# -- the client's HTTP transport, end to end ------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: list  # set per server

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            event = parse_body(body, self.headers.get("Content-Encoding"))
            status, answer = 201, {"kind": check_event(event)}
            self.server.received.append((self.path, event))
        except InvalidEvent as e:
            status, answer = 400, e.to_dict()
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_client_http_transport_gzip_reaches_the_endpoint(receiver):
    host, port = receiver.server_address
    config = HttpConfig(url=f"http://{host}:{port}", compression=HttpCompression.GZIP, timeout=10)
    response = HttpTransport(config).emit(client_run_event())
    assert response.status_code == 201
    assert response.json() == {"kind": "RunEvent"}
    [(path, event)] = receiver.received
    assert path == "/api/v1/lineage"
    assert event["run"]["runId"] == RUN_ID


# -- bad events -----------------------------------------------------------------------


def valid() -> dict:
    return wire(client_run_event())


def broken(change) -> dict:
    event = copy.deepcopy(valid())
    change(event)
    return event


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda e: e["run"].pop("runId"), "run.runId", "'runId' is a required property"),
        (
            lambda e: e["run"].update(runId="not-a-uuid"),
            "run.runId",
            "'not-a-uuid' is not a 'uuid'",
        ),
        (
            lambda e: e.update(eventTime="yesterday"),
            "eventTime",
            "'yesterday' is not a 'date-time'",
        ),
        (lambda e: e.update(eventTime="20260301"), "eventTime", "'20260301' is not a 'date-time'"),
        (
            lambda e: e.update(eventTime=1772366400),
            "eventTime",
            "1772366400 is not of type 'string'",
        ),
        (lambda e: e.pop("eventTime"), "eventTime", "'eventTime' is a required property"),
        (lambda e: e.pop("producer"), "producer", "'producer' is a required property"),
        (lambda e: e.update(producer="no scheme"), "producer", "'no scheme' is not a 'uri'"),
        (lambda e: e.pop("job"), "job", "'job' is a required property"),
        (
            lambda e: e["job"].pop("namespace"),
            "job.namespace",
            "'namespace' is a required property",
        ),
        (
            lambda e: e.update(eventType="DONE"),
            "eventType",
            "'DONE' is not one of ['START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER']",
        ),
        (lambda e: e["inputs"][0].pop("name"), "inputs[0].name", "'name' is a required property"),
        (lambda e: e.update(outputs={"a": 1}), "outputs", "{'a': 1} is not of type 'array'"),
        (
            lambda e: e["run"]["facets"]["nominalTime"].pop("_producer"),
            "run.facets.nominalTime._producer",
            "'_producer' is a required property",
        ),
        (lambda e: e.update(run="r"), "run", "'r' is not of type 'object'"),
    ],
)
def test_a_bad_field_is_named(change, field, reason):
    with pytest.raises(InvalidEvent) as caught:
        check_event(broken(change))
    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert caught.value.to_dict() == {
        "error": "invalid OpenLineage event",
        "field": field,
        "reason": reason,
    }


@pytest.mark.parametrize(
    ("event", "field", "reason"),
    [
        ([], "$", "an event is a JSON object, not an array"),
        ("x", "$", "an event is a JSON object, not a string"),
        (None, "$", "an event is a JSON object, not null"),
        (7, "$", "an event is a JSON object, not a number"),
        ({}, "run", "required: a RunEvent has run and job, a DatasetEvent dataset, a JobEvent job"),
        ({1: "x", "run": {}}, "$", "key 1 is not a string"),
        ({"run": {"runId": object()}}, "run.runId", "object is not a JSON value"),
    ],
)
def test_not_an_event(event, field, reason):
    with pytest.raises(InvalidEvent) as caught:
        check_event(event)
    assert (caught.value.field, caught.value.reason) == (field, reason)


def test_deep_nesting_is_refused_without_recursion():
    deep: dict = {}
    inner = deep
    for _ in range(10_000):
        inner["x"] = {}
        inner = inner["x"]
    event = broken(
        lambda e: e["run"]["facets"].update(
            custom={"_producer": "urn:x", "_schemaURL": "urn:y", **deep}
        )
    )
    with pytest.raises(InvalidEvent) as caught:
        check_event(event)
    assert caught.value.field == "run.facets.custom" + ".x" * 29
    assert caught.value.reason == "nested deeper than 32"
    body = ('{"run": ' * 10_000 + "{}" + "}" * 10_000).encode()
    with pytest.raises(InvalidEvent) as caught:
        parse_body(body)
    assert (caught.value.field, caught.value.reason) == ("$", "nested deeper than 32")


def test_huge_strings_are_refused_and_not_echoed():
    event = broken(lambda e: e["job"].update(name="j" * (MAX_STRING + 1)))
    with pytest.raises(InvalidEvent) as caught:
        check_event(event)
    assert (caught.value.field, caught.value.reason) == ("job.name", "string over 65536 characters")
    event = broken(lambda e: e["run"].update(runId="u" * 5000))
    with pytest.raises(InvalidEvent) as caught:
        check_event(event)
    assert caught.value.field == "run.runId"
    assert len(caught.value.reason) == 303
    with pytest.raises(InvalidEvent) as caught:
        parse_body(b" " * (MAX_BODY_BYTES + 1))
    assert caught.value.reason == f"event over {MAX_BODY_BYTES} bytes"


@pytest.mark.parametrize(
    ("body", "encoding", "reason_start"),
    [
        (b"{not json", None, "not JSON: "),
        (b'{"eventTime": NaN}', None, "not JSON: NaN is not JSON"),
        (b"\xff\xfe", None, "not JSON: "),
        (b"plain", "gzip", "not gzip: "),
        (b"{}", "br", "unsupported Content-Encoding 'br'"),
    ],
)
def test_bad_bodies(body, encoding, reason_start):
    with pytest.raises(InvalidEvent) as caught:
        parse_body(body, encoding)
    assert caught.value.field == "$"
    assert caught.value.reason.startswith(reason_start)


def test_a_gzip_bomb_stops_at_the_limit():
    bomb = gzip.compress(b" " * (MAX_BODY_BYTES * 4))
    with pytest.raises(InvalidEvent) as caught:
        parse_body(bomb, "gzip")
    assert caught.value.reason == f"event over {MAX_BODY_BYTES} bytes"


def test_a_valid_body_parses():
    body = Serde.to_json(client_run_event()).encode()
    assert parse_body(body)["job"]["name"] == "daily.clicks"
    assert parse_body(gzip.compress(body), "gzip")["job"]["name"] == "daily.clicks"
