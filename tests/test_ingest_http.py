"""The ingest service as a real process on a real broker, over real HTTP: a batch read back
to the topics' end offsets, per-item errors, tokens and scopes, refused bodies and hostile
input (the service answers each with a reason and stays healthy)."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from watchkeeper import topic_admin
from watchkeeper.devstack import ServiceProcess

from .ingest_http_support import (
    FEEDBACK_ONLY,
    PREDICTIONS_ONLY,
    TOKENS,
    client,
    on_topic,
    prediction,
)

pytestmark = pytest.mark.kafka
MAX_BODY = 64 * 1024
MAX_EVENTS = 300


@pytest.fixture(scope="module")
def ingest(kafka_bootstrap, tmp_path_factory):
    """One service and one prefix for the module (a process per test would triple its
    time): each test reads back only the events it sent, told apart by their ids."""
    from watchkeeper.settings import KafkaSettings

    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    prefix = f"t{uuid.uuid4().hex[:10]}."
    topic_admin.apply(settings, prefix=prefix)
    service = ServiceProcess(
        "services.ingest",
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "WK_TOPIC_PREFIX": prefix,
            "WK_INGEST_API_TOKENS": TOKENS,
            "WK_INGEST_MAX_BODY_BYTES": str(MAX_BODY),
            "WK_INGEST_MAX_EVENTS": str(MAX_EVENTS),
        },
        tmp_path_factory.mktemp("ingest") / "ingest.log",
    )
    try:
        service.wait_healthy()
        yield service, settings, prefix
    finally:
        service.stop()
        topic_admin.delete_prefixed(settings, prefix)


def test_a_mixed_batch_is_acknowledged_and_on_its_topics(ingest) -> None:
    service, settings, prefix = ingest
    mine = [prediction(i, event_id=f"p-{i}", region="eu") for i in range(40)]
    filled = [prediction(100 + i) for i in range(10)]  # ids and times filled in
    labels = [{"topic": "feedback", "event_id": f"p-{i}", "model": "fraud", "label": "ok"}
              for i in range(5)]  # fmt: skip
    host = {"topic": "telemetry", "host": "node-1", "model": "fraud", "version": "3",
            "cpu_utilization": 0.25, "spot": True}  # fmt: skip
    with client(service.url) as http:
        response = http.post(
            "/v1/events", json={"topic": "predictions", "events": mine + filled + labels + [host]}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["errors"], body["accepted"], body["rejected"], body["failed"]) == (
        False, 56, 0, 0
    )  # fmt: skip
    items = body["items"]
    assert [i["index"] for i in items] == list(range(56))
    assert [i["event_id"] for i in items[:40]] == [f"p-{i}" for i in range(40)]
    filled_ids = [i["event_id"] for i in items[40:50]]
    assert all(uuid.UUID(e).version == 4 for e in filled_ids)
    assert [i["topic"] for i in items[50:]] == ["feedback"] * 5 + ["telemetry"]

    predictions = on_topic(settings, prefix, "predictions")
    by_id = {event["event_id"]: (key, event) for key, event in predictions}
    assert len(predictions) == 50 == len(by_id)  # exactly once each, to the end offsets
    assert set(by_id) == {f"p-{i}" for i in range(40)} | set(filled_ids)
    key, event = by_id["p-7"]
    assert key == b"fraud" and event["model"] == "fraud"  # keyed as the SDK keys it
    assert (event["latency_ms"], event["score"], event["region"]) == (7.0, 0.007, "eu")
    assert event["num_features"] == {"amount": 10.5} and event["status"] == "OK"
    assert all(by_id[e][1]["event_time_ms"] > 1_700_000_000_000 for e in filled_ids)
    feedback = on_topic(settings, prefix, "feedback")
    assert sorted(e["event_id"] for _, e in feedback) == [f"p-{i}" for i in range(5)]
    (telemetry,) = on_topic(settings, prefix, "telemetry")
    assert telemetry[0] == b"fraud"
    assert (telemetry[1]["host"], telemetry[1]["cpu_utilization"], telemetry[1]["spot"]) == (
        "node-1", 0.25, True
    )  # fmt: skip
    assert service.metric("wk_ingest_events_total", topic="predictions") >= 50


def test_bad_items_are_named_and_only_the_good_ones_written(ingest) -> None:
    service, settings, prefix = ingest
    run = uuid.uuid4().hex[:6]
    events = [
        {"model": "fraud", "version": "1", "latency_ms": 1.0, "event_id": f"{run}-good-0"},
        {"model": "fraud", "version": "1", "latency_ms": "slow"},
        {"model": "fraud", "version": "1", "latency_ms": -3},
        {"version": "1", "latency_ms": 2.0},
        {"model": "fraud", "version": "1", "latency_ms": 2.0, "colour": "red"},
        {"model": "fraud", "version": "1", "latency_ms": 2.0, "topic": "alerts"},
        None,
        [1, 2],
        {"model": "fraud", "version": "1", "latency_ms": 3.0, "event_id": f"{run}-good-1"},
        {"model": None, "version": "1", "latency_ms": 2.0},
        {"model": "fraud", "version": "1", "latency_ms": 2.0, "num_features": {"a": "b"}},
        {"model": "fraud", "version": "1", "latency_ms": 2.0, "event_id": ""},
    ]
    before = service.metric("wk_ingest_rejected_total", topic="predictions", reason="wrong_type")
    with client(service.url) as http:
        response = http.post("/v1/events", json={"topic": "predictions", "events": events})
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["errors"], body["accepted"], body["rejected"]) == (True, 2, 10)
    rejected = {
        i["index"]: (i["field"], i["code"], i["reason"])
        for i in body["items"]
        if i["status"] == "rejected"
    }
    assert rejected == {
        1: ("latency_ms", "wrong_type", "expected double, got str 'slow'"),
        2: ("latency_ms", "invalid", "must be >= 0, got -3"),
        3: ("model", "missing_field", "required field is missing"),
        4: ("colour", "unknown_field", "unknown field (a typo?)"),
        5: ("topic", "unknown_topic",
            "unknown topic 'alerts'; use predictions, feedback, telemetry"),
        6: (None, "not_an_object", "an event is a JSON object, not null"),
        7: (None, "not_an_object", "an event is a JSON object, not list"),
        9: ("model", "wrong_type", "expected string, got NoneType None"),
        10: ("num_features['a']", "wrong_type", "expected double, got str 'b'"),
        11: ("event_id", "invalid", "must not be empty"),
    }  # fmt: skip
    ours = [e for _, e in on_topic(settings, prefix, "predictions")
            if e["event_id"].startswith(run)]  # fmt: skip
    assert sorted(e["event_id"] for e in ours) == [f"{run}-good-0", f"{run}-good-1"]
    after = service.metric("wk_ingest_rejected_total", topic="predictions", reason="wrong_type")
    assert after - before == 3
    assert service.metric("wk_ingest_rejected_total", topic="unknown", reason="unknown_topic") >= 1
    # Nothing good at all: 422, and nothing written.
    with client(service.url) as http:
        response = http.post("/v1/events", json={"topic": "feedback", "events": [{}, 1]})
    assert response.status_code == 422
    assert response.json()["accepted"] == 0


def test_tokens_and_scopes(ingest) -> None:
    service, _, _ = ingest
    batch = {"topic": "predictions", "events": [prediction(1)]}
    with client(service.url, token=None) as http:
        response = http.post("/v1/events", json=batch)
        assert response.status_code == 401
        assert response.json() == {"error": "a bearer token is required"}
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with client(service.url, token="0123456789abcdef-wrong") as http:
        response = http.post("/v1/events", json=batch)
        assert (response.status_code, response.json()) == (401, {"error": "the token is not valid"})
    with client(service.url, token=FEEDBACK_ONLY) as http:
        response = http.post("/v1/events", json=batch)
        assert response.status_code == 403
        assert response.json() == {"error": "this token lacks the 'ingest:predictions' scope"}
        labels = {"topic": "feedback", "events": [{"event_id": "x", "model": "fraud"}]}
        assert http.post("/v1/events", json=labels).status_code == 200
    with client(service.url, token=PREDICTIONS_ONLY) as http:
        mixed = {"topic": "predictions", "events": [
            prediction(1), {"topic": "telemetry", "host": "h", "model": "m", "version": "1"},
            {"topic": "feedback", "event_id": "x", "model": "m"}]}  # fmt: skip
        response = http.post("/v1/events", json=mixed)
        assert response.status_code == 403  # refused whole: nothing of it was written
        assert response.json()["error"] == (
            "this token lacks the 'ingest:feedback', 'ingest:telemetry' scope"
        )
    assert FEEDBACK_ONLY not in service.logs() and PREDICTIONS_ONLY not in service.logs()


def test_refused_bodies_say_why(ingest) -> None:
    service, _, _ = ingest
    with client(service.url) as http:

        def post(content: bytes, content_type: str = "application/json", **headers):
            return http.post(
                "/v1/events", content=content, headers={"Content-Type": content_type, **headers}
            )

        cases = [
            (post(b"hello"), 400, "the body is not JSON: Expecting value (line 1, column 1)"),
            (post(b'{"topic": "predictions", "events": [{"model": "a"'), 400,
             "the body is not JSON: Expecting ',' delimiter (line 1, column 50)"),
            (post(b"[1, 2]"), 400, 'the body must be an object {"events": [...]}, not a list'),
            (post(b'{"events": {"a": 1}}'), 400, "events must be a list, not an object"),
            (post(b'{"topic": "predictions"}'), 400, "the body has no events list"),
            (post(b'{"events": [], "extra": 1}'), 400,
             "unknown key 'extra' in the body; expected topic, events"),
            (post(b'{"events": []}'), 400, "the batch has no events"),
            (post(b'{"topic": "alerts", "events": [{}]}'), 400,
             "topic must be one of predictions, feedback, telemetry, not 'alerts'"),
            (post(b'{"events": []}', "text/plain"), 415,
             "Content-Type must be application/json or application/x-ndjson, not 'text/plain'"),
            (post(b"{}", "application/json", **{"Content-Encoding": "br"}), 415,
             "Content-Encoding 'br' is not supported; use gzip or none"),
            (post(b"\x1f\x8b\x08junk", "application/json", **{"Content-Encoding": "gzip"}),
             400, None),
            (post(b"\xff\xfe{}"), 400, "the body is not UTF-8 (byte 0)"),
            (post(b"x" * (MAX_BODY + 1)), 413, f"the body is larger than {MAX_BODY} bytes"),
            (post(gzip.compress(b" " * (MAX_BODY + 1)), **{"Content-Encoding": "gzip"}), 413,
             f"the body decompresses to more than {MAX_BODY} bytes"),
            (post(json.dumps({"events": [{}] * (MAX_EVENTS + 1)}).encode()), 413,
             f"{MAX_EVENTS + 1} events in one request; at most {MAX_EVENTS}"),
        ]  # fmt: skip
        for response, status, reason in cases:
            assert response.status_code == status, (response.request.content[:60], response.text)
            if reason is not None:
                assert response.json() == {"error": reason}
            else:
                assert response.json()["error"].startswith("the body is not valid gzip")
        assert http.get("/v1/events").status_code == 405
        assert http.post("/v1/other", json={}).status_code == 404
    assert service.health()[0] == 200


def test_hostile_input_is_refused_with_a_reason(ingest) -> None:
    service, settings, prefix = ingest
    run = uuid.uuid4().hex[:6]
    with client(service.url) as http:

        def post(content: bytes):
            return http.post(
                "/v1/events", content=content, headers={"Content-Type": "application/json"}
            )

        wrapped = b'{"topic": "predictions", "events": [%s]}'
        good = b'"model": "m", "version": "1", "latency_ms": 1'
        for raw, reason in [
            (b'{"score": NaN, %s}' % good, "the body is not JSON: NaN is not a JSON number"),
            (b'{"score": -Infinity, %s}' % good,
             "the body is not JSON: -Infinity is not a JSON number"),
            (b'{"score": 1e999, %s}' % good,
             "the body is not JSON: 1e999 is too large for a double"),
        ]:  # fmt: skip
            response = post(wrapped % raw)
            assert response.status_code == 400
            assert response.json()["error"].startswith(reason)
        deep = post(b"[" * 30_000 + b"]" * 30_000)
        assert (deep.status_code, deep.json()) == (400, {"error": "the body is nested too deeply"})
        huge_int = post(wrapped % (b'{"event_time_ms": %s, %s}' % (b"9" * 5000, good)))
        assert huge_int.status_code == 400 and "not JSON" in huge_int.json()["error"]

        nested = {"a": 1}
        for _ in range(200):
            nested = {"a": nested}
        events = [
            {"model": "m", "version": "1", "latency_ms": "x" * 20_000},  # huge wrong value
            {"model": "m", "version": "1", "latency_ms": 1, "segments": nested},
            {"model": "m", "version": "1", "latency_ms": 1, "event_time_ms": 2**70},
            {"model": "m", "version": "1", "latency_ms": 1, "event_time_ms": 1.5},
            {"model": "m", "version": "1", "latency_ms": True},
            {"model": "m", "version": "1", "latency_ms": 1, "topic": 7},
            {"model": "m", "version": "1", "latency_ms": 1, "event_id": f"{run}-big",
             "user_id": "u" * 10_000, "num_features": {f"f{i}": i for i in range(1000)}},
        ]  # fmt: skip
        response = http.post("/v1/events", json={"topic": "predictions", "events": events})
    assert response.status_code == 207, response.text
    items = response.json()["items"]
    codes = [(i["status"], i.get("field"), i.get("code")) for i in items]
    assert codes == [
        ("rejected", "latency_ms", "wrong_type"),
        ("rejected", "segments['a']", "wrong_type"),
        ("rejected", None, "wrong_type"),
        ("rejected", "event_time_ms", "wrong_type"),
        ("rejected", "latency_ms", "wrong_type"),
        ("rejected", "topic", "unknown_topic"),
        ("accepted", None, None),
    ]
    assert all(len(i.get("reason", "")) <= 300 for i in items)  # a huge value is not echoed
    big = [e for _, e in on_topic(settings, prefix, "predictions") if e["event_id"] == f"{run}-big"]
    assert (
        len(big) == 1 and len(big[0]["user_id"]) == 10_000 and len(big[0]["num_features"]) == 1000
    )
    assert service.health()[0] == 200


def test_ndjson_and_gzip(ingest) -> None:
    service, settings, prefix = ingest
    run = uuid.uuid4().hex[:6]
    lines = [json.dumps(prediction(i, event_id=f"{run}-{i}")) for i in range(20)]
    lines.insert(3, "")  # blank lines are skipped
    lines.append(json.dumps({"topic": "feedback", "event_id": f"{run}-0", "model": "fraud"}))
    raw = gzip.compress("\n".join(lines).encode())
    with client(service.url) as http:
        response = http.post(
            "/v1/events?topic=predictions",
            content=raw,
            headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 21
        broken = http.post(
            "/v1/events?topic=predictions",
            content=b'{"model": "a"}\n{"model": \n',
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert broken.status_code == 400
        assert broken.json()["error"] == "line 2: the body is not JSON: Expecting value (column 11)"
    ours = [e["event_id"] for _, e in on_topic(settings, prefix, "predictions")
            if e["event_id"].startswith(run)]  # fmt: skip
    assert sorted(ours) == sorted(f"{run}-{i}" for i in range(20))
