"""Guarded calls on a real broker: every call's prediction event records the path that
answered, and a human review goes round: request on the topic, answer from the command
line, feedback with the prediction's event_id."""

from __future__ import annotations

import json
import threading

import pytest

from watchkeeper.cli import main as cli_main
from watchkeeper.codec import Codec
from watchkeeper.continuity import (
    Breaker,
    DeadlinePool,
    Guard,
    HumanReview,
    Pending,
    ResultCache,
)
from watchkeeper.continuity._review_topic import read_reviews
from watchkeeper.runtime import compacted
from watchkeeper.sdk import Emitter

pytestmark = pytest.mark.kafka
CODEC = Codec()


def read_all(settings, topic: str, schema: str) -> list[dict]:
    """Every record of ``topic`` up to its end offsets: exact counts, no waiting on luck."""
    return [CODEC.decode_as(schema, r.value) for r in compacted.read(settings, topic, 30)]


def primary(features):
    if features["amount"] > 1000:
        raise ConnectionError("model server unreachable")
    return "legit"


def test_events_record_which_path_answered(kafka_settings, prefix):
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-guard-events")
    human = HumanReview(settings=kafka_settings, prefix=prefix)
    cache = ResultCache(name="it-events")
    state = {"fallback_down": False}

    def simple(features):
        if state["fallback_down"]:
            raise RuntimeError("simple model down too")
        return "review"

    guard = Guard(
        primary,
        model="fraud",
        version="3",
        fallbacks=[simple],
        cache=cache,
        human=human,
        emitter=emitter,
        breaker=Breaker(min_calls=1000),
        describe=lambda label: {"label": label},
    )
    answers = [guard({"amount": a}) for a in (10.0, 20.0, 2000.0, 3000.0)]
    # A healthy call under the caller's key fills the cache; with the primary and the
    # fallback both failing, that key is answered from the cache, and a new one by a human.
    answers.append(guard({"amount": 30.0}, key="user-1"))
    state["fallback_down"] = True
    answers.append(guard({"amount": 5000.0}, key="user-1"))
    pending = guard({"amount": 6000.0})
    assert answers == ["legit", "legit", "review", "review", "legit", "legit"]
    assert isinstance(pending, Pending)
    assert emitter.close(30) == 0

    events = read_all(kafka_settings, prefix + "predictions", "PredictionEvent")
    assert len(events) == 7
    paths = [(e["cache_hit"], e["fallback_used"], e["status"], e["error_type"]) for e in events]
    assert paths == [
        (False, False, "OK", None),
        (False, False, "OK", None),
        (False, True, "OK", "fallback:ConnectionError"),
        (False, True, "OK", "fallback:ConnectionError"),
        (False, False, "OK", None),
        (True, True, "OK", "cache:ConnectionError"),
        (False, True, "OK", "human:ConnectionError"),
    ]
    assert [e["prediction_label"] for e in events] == [
        "legit",
        "legit",
        "review",
        "review",
        "legit",
        "legit",
        None,
    ]
    assert events[-1]["event_id"] == pending.event_id  # the review's feedback will join it
    assert all(e["model"] == "fraud" and e["version"] == "3" for e in events)
    assert events[5]["input_hash"] == "user-1"
    assert guard.outcomes == {"primary": 3, "fallback": 2, "cache": 1, "human": 1}


def test_human_review_round_trip(kafka_settings, kafka_bootstrap, prefix, monkeypatch, capsys):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-guard-human")
    human = HumanReview(settings=kafka_settings, prefix=prefix)

    def down(features):
        raise ConnectionError("down")

    guard = Guard(down, model="fraud", version="3", human=human, emitter=emitter)
    pending = guard({"amount": 99.5, "country": "FR"})
    other = guard({"amount": 1.0, "country": "DE"})
    assert isinstance(pending, Pending) and isinstance(other, Pending)
    assert emitter.close(30) == 0

    # The request is on the topic, with the prediction's event_id.
    reviews, bad = read_reviews(kafka_settings, prefix)
    assert bad == 0 and set(reviews) == {pending.review_id, other.review_id}
    request = reviews[pending.review_id]
    assert request["state"] == "pending" and request["event_id"] == pending.event_id
    assert request["features"] == {"amount": 99.5, "country": "FR"}

    assert cli_main(["review", "--prefix", prefix, "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["review_id"] for r in listed} == {pending.review_id, other.review_id}

    assert (
        cli_main(
            [
                "review",
                "--prefix",
                prefix,
                "answer",
                pending.review_id,
                "--label",
                "fraud",
                "--reviewer",
                "alice",
            ]
        )
        == 0
    )
    capsys.readouterr()

    feedback = read_all(kafka_settings, prefix + "feedback", "FeedbackEvent")
    assert [(f["event_id"], f["label"], f["model"], f["version"]) for f in feedback] == [
        (pending.event_id, "fraud", "fraud", "3")
    ]
    reviews, _ = read_reviews(kafka_settings, prefix)
    assert reviews[pending.review_id]["state"] == "answered"
    assert reviews[pending.review_id]["reviewer"] == "alice"

    # Only the other one is still pending.
    assert cli_main(["review", "--prefix", prefix, "list"]) == 0
    out = capsys.readouterr().out
    assert other.review_id in out and pending.review_id not in out

    # Answering twice, or a review nobody asked for: exit 2 with the reason; no feedback.
    assert (
        cli_main(["review", "--prefix", prefix, "answer", pending.review_id, "--label", "x"]) == 2
    )
    assert "was answered by alice" in capsys.readouterr().err
    assert cli_main(["review", "--prefix", prefix, "answer", "nope", "--label", "x"]) == 2
    assert "no review 'nope'" in capsys.readouterr().err
    assert len(read_all(kafka_settings, prefix + "feedback", "FeedbackEvent")) == 1


def test_review_list_skips_hostile_records(
    kafka_settings, kafka_bootstrap, prefix, monkeypatch, capsys
):
    from confluent_kafka import Producer

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    producer = Producer(kafka_settings.confluent())
    topic = prefix + "human-review"
    producer.produce(topic, b"\xff\x00 not json", b"r-1")
    producer.produce(topic, json.dumps({"review_id": "other"}).encode(), b"r-2")  # key mismatch
    human = HumanReview(settings=kafka_settings, prefix=prefix)
    good = human.request("fraud", "3", "e-1", {"amount": 1.0}, "primary: ConnectionError")
    assert producer.flush(30) == 0  # (a keyless record the compacted topic itself refuses)
    assert human.publish.__self__.flush(30) == 0
    assert cli_main(["review", "--prefix", prefix, "list"]) == 0
    captured = capsys.readouterr()
    assert good.review_id in captured.out
    assert "2 unreadable record(s)" in captured.err


def test_breaker_opens_and_closes_and_a_hung_primary_meets_the_deadline(kafka_settings, prefix):
    """On a real broker, one guard through its states: a primary that hangs past the
    deadline is answered by the fallback while it still hangs; failures open the breaker,
    which then spares the primary; after the cooldown two good probes close it. Every call's
    event says which path answered, read back to the end offsets."""
    now = [0.0]
    mode = {"primary": "hang"}
    release = threading.Event()
    calls = {"primary": 0, "returned": 0}

    def flaky(features):
        calls["primary"] += 1
        try:
            if mode["primary"] == "hang":
                release.wait(30)
                return "late"
            if mode["primary"] == "fail":
                raise ConnectionError("model server down")
            return "legit"
        finally:
            calls["returned"] += 1

    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-guard-breaker")
    pool = DeadlinePool(workers=2, name="it-guard")
    breaker = Breaker(
        window=10, min_calls=4, failure_rate=0.5, cooldown_s=30, half_open_calls=2,
        clock=lambda: now[0],
    )  # fmt: skip
    guard = Guard(
        flaky,
        model="fraud-breaker",
        version="1",
        fallbacks=[lambda features: "simple"],
        breaker=breaker,
        deadline_s=0.2,
        pool=pool,
        emitter=emitter,
        clock=lambda: now[0],
        describe=lambda label: {"label": label},
    )
    try:
        # The deadline: answered by the fallback while the primary is still inside its call.
        assert guard({"amount": 1.0}) == "simple"
        assert calls == {"primary": 1, "returned": 0}
        release.set()
        mode["primary"] = "fail"
        answers = [guard({"amount": 2.0}) for _ in range(3)]
        assert answers == ["simple"] * 3 and breaker.state == "open"
        spared = calls["primary"]
        assert [guard({"amount": 3.0}) for _ in range(2)] == ["simple", "simple"]
        assert calls["primary"] == spared  # open: the primary is not called at all
        now[0] = 31.0  # the cooldown is over: two probes, both fine, close it
        mode["primary"] = "ok"
        assert [guard({"amount": 4.0}) for _ in range(2)] == ["legit", "legit"]
        assert breaker.state == "closed"
        assert guard({"amount": 5.0}) == "legit"
    finally:
        release.set()
        pool.close()
        assert emitter.close(30) == 0

    events = read_all(kafka_settings, prefix + "predictions", "PredictionEvent")
    assert [(e["fallback_used"], e["prediction_label"]) for e in events] == [
        (True, "simple"),  # deadline
        (True, "simple"),
        (True, "simple"),
        (True, "simple"),  # the fourth call's failure opened it
        (True, "simple"),  # refused by the open breaker
        (True, "simple"),
        (False, "legit"),  # half-open probes
        (False, "legit"),
        (False, "legit"),  # closed again
    ]
    assert events[0]["error_type"].startswith("fallback:DeadlineExceeded")
    assert events[4]["error_type"].startswith("fallback:BreakerOpen")
    assert guard.outcomes["rejected_open"] == 2
