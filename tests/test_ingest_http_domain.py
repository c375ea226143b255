"""ingest's domain modules without Kafka or a server: the body, each item, the answer, the
bound and the settings."""

from __future__ import annotations

import gzip

import pytest

from services.ingest import body
from services.ingest.answer import summarize
from services.ingest.config import IngestConfig
from services.ingest.inflight import InFlight
from services.ingest.items import Accepted, Checker, Rejected
from watchkeeper.codec import Codec
from watchkeeper.settings import ConfigError, ServiceSettings

CHECK = Checker(Codec(), now_ms=lambda: 1_767_225_600_000, new_id=lambda: "filled")


def refused(raw: bytes, content_type: str = "application/json", **kw) -> tuple[int, str]:
    with pytest.raises(body.BadBody) as info:
        body.parse(raw, content_type, **kw)
    return info.value.status, info.value.reason


def test_bodies_refused_whole() -> None:
    assert refused(b'{"events": []}', "application/json", query_topic="feedback") == (
        400, "the topic parameter is for NDJSON; put it in the JSON body"
    )  # fmt: skip
    assert refused(b"{}", "application/x-ndjson", query_topic="alerts")[0] == 400
    assert refused(b'{"events": [], "topic": 3}')[1] == (
        "topic must be one of predictions, feedback, telemetry, not '3'"
    )
    assert refused(b"", "")[0] == 415
    assert refused(b"null") == (400, 'the body must be an object {"events": [...]}, not null')
    assert refused(b'{"a": 1}\n[1', "application/x-ndjson")[1].startswith("line 2: ")
    with pytest.raises(body.BadBody) as info:
        body.decode(gzip.compress(b'{"events": []}')[:-6], "gzip", 1000)
    assert (info.value.status, info.value.reason) == (400, "the gzip body is truncated")
    assert body.media_type("Application/JSON; charset=utf-8") == "application/json"


def test_each_item_on_its_own() -> None:
    good = {"model": "fraud", "version": "3", "latency_ms": 1.0}
    accepted = CHECK(0, {**good, "event_id": "mine", "event_time_ms": None}, "predictions")
    assert isinstance(accepted, Accepted) and accepted.event_id == "mine"
    decoded = Codec().decode_as("PredictionEvent", accepted.value)
    assert decoded["event_time_ms"] == 1_767_225_600_000  # null is filled like absent
    assert CHECK(1, {**good, "topic": ["x"]}, "predictions") == Rejected(
        1, "topic", "unknown topic \"['x']\"; use predictions, feedback, telemetry",
        "unknown_topic",
    )  # fmt: skip
    assert isinstance(CHECK(1, {**good, "topic": None}, "predictions"), Accepted)
    telemetry = CHECK(2, {"host": "h", "model": "m", "version": "1"}, "telemetry")
    assert isinstance(telemetry, Accepted) and telemetry.key == b"m"
    long = CHECK(3, {**good, "latency_ms": "x" * 10_000}, "predictions")
    assert isinstance(long, Rejected) and len(long.reason) <= 300  # not echoed whole
    key = CHECK(4, {**good, "k" * 10_000: 1}, "predictions")
    assert isinstance(key, Rejected) and key.code == "unknown_field" and len(key.field) == 300


def test_statuses_add_up() -> None:
    ok = Accepted(0, "feedback", b"m", b"v", "e")
    bad = Rejected(1, None, "an event is a JSON object, not int", "not_an_object")
    assert summarize([ok], {})[0] == 200
    assert summarize([bad], {})[0] == 422
    status, answer = summarize([ok, bad], {0: "not acknowledged"})
    assert (status, answer["failed"], answer["items"][0]["status"]) == (503, 1, "failed")


def test_the_bound_gives_back_what_it_took() -> None:
    bound = InFlight(max_events=3, max_bytes=100)
    assert bound.take(3, 10) and not bound.take(1, 1)
    bound.give_back(1, 5)
    assert bound.take(1, 95) and not bound.take(0, 1)


def test_a_bound_no_request_could_fit_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="WK_INGEST_MAX_EVENTS"):
        IngestConfig(ServiceSettings("ingest"), max_events=10, max_inflight_events=5)
    with pytest.raises(ConfigError, match="WK_INGEST_MAX_BODY_BYTES"):
        IngestConfig(ServiceSettings("ingest"), max_body=2048, max_inflight_bytes=1024)
    assert IngestConfig(ServiceSettings("ingest"), deadline_s=1.0).delivery_timeout_ms == 500
