"""The pipeline's callback client, and the demo trainer against a real broker.

A ``WebhookReceiver`` stands in for the retrain service's callback endpoint and records
every report the pipeline sends.
"""

from __future__ import annotations

import csv
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from confluent_kafka import Producer

from watchkeeper.clients.dataset_hash import file_digest
from watchkeeper.codec import Codec
from watchkeeper.devstack import Response, WebhookReceiver
from watchkeeper.ports import free_port
from watchkeeper.retrain_callback import Callback, CallbackError

REPO = Path(__file__).resolve().parent.parent
CALLBACK = "/api/v1/runs/fraud-7/callback"


@pytest.fixture
def receiver():
    server = WebhookReceiver(port=free_port()).start()
    yield server
    server.stop()


def client(receiver: WebhookReceiver, **options) -> Callback:
    return Callback(receiver.url + CALLBACK, "run-token", "fraud-7", backoff_s=0.01, **options)


# -- the callback client ----------------------------------------------------------------


def test_callback_sends_each_report_kind_with_the_token(receiver):
    callback = client(receiver)
    callback.progress("read 400 events")
    callback.candidate(
        "3.2.0-r7",
        "file:///a/model.pkl",
        metrics={"accuracy": 0.9, "auc": 1},
        datasets=[{"name": "fraud-training", "version": "3.2.0-r7", "uri": "file:///a/t.csv"}],
        params={"holdout": 0.2},
    )
    callback.failed("out of memory")
    bodies = [r.body for r in receiver.requests(CALLBACK)]
    assert bodies == [
        {"kind": "progress", "message": "read 400 events"},
        {
            "kind": "candidate",
            "version": "3.2.0-r7",
            "artifact_uri": "file:///a/model.pkl",
            "metrics": {"accuracy": 0.9, "auc": 1.0},
            "datasets": [
                {"name": "fraud-training", "version": "3.2.0-r7", "uri": "file:///a/t.csv"}
            ],
            "params": {"holdout": 0.2},
        },
        {"kind": "failed", "reason": "out of memory"},
    ]
    assert {r.headers["authorization"] for r in receiver.requests()} == {"Bearer run-token"}


def test_callback_retries_5xx_and_gives_up_after_its_attempts(receiver):
    receiver.script(CALLBACK, [500, Response(503), 200])
    client(receiver).progress("hello")
    assert [r.status for r in receiver.requests(CALLBACK)] == [500, 503, 200]
    receiver.script(CALLBACK, [], then=502)
    with pytest.raises(CallbackError, match="gave up after 3 attempts; last: 502"):
        client(receiver, attempts=3).progress("again")
    assert len(receiver.requests(CALLBACK)) == 6


def test_callback_4xx_raises_at_once_with_the_reason(receiver):
    receiver.script(CALLBACK, [401])
    with pytest.raises(CallbackError, match="refused the progress report with 401") as caught:
        client(receiver).progress("hello")
    assert caught.value.status == 401
    assert len(receiver.requests(CALLBACK)) == 1


def test_callback_refuses_bad_candidates_before_sending(receiver):
    callback = client(receiver)
    with pytest.raises(CallbackError, match="finite"):
        callback.candidate("v", "file:///m", {"auc": float("nan")}, [])
    with pytest.raises(CallbackError, match="lacks uri"):
        callback.candidate("v", "file:///m", {"auc": 0.5}, [{"name": "d", "version": "1"}])
    assert receiver.requests() == []


def test_callback_from_env(monkeypatch):
    monkeypatch.setenv("WK_RETRAIN_CALLBACK_URL", "http://127.0.0.1:1" + CALLBACK)
    monkeypatch.setenv("WK_RETRAIN_CALLBACK_TOKEN", "t")
    monkeypatch.setenv("WK_RETRAIN_RUN_ID", "fraud-7")
    callback = Callback.from_env()
    assert (callback.url, callback.token, callback.run_id) == (
        "http://127.0.0.1:1" + CALLBACK,
        "t",
        "fraud-7",
    )
    assert "t'" not in repr(callback)
    monkeypatch.delenv("WK_RETRAIN_CALLBACK_TOKEN")
    with pytest.raises(CallbackError, match="WK_RETRAIN_CALLBACK_TOKEN is not set"):
        Callback.from_env()


# -- the trainer against a real broker --------------------------------------------------


def produce(kafka_settings, prefix: str, predictions: int, labelled: int) -> None:
    """``predictions`` fraud predictions (amount > 150 is fraud), the first ``labelled``
    of them labelled, and 20 of another model that the trainer must ignore."""
    codec = Codec()
    rng = random.Random(11)
    producer = Producer(kafka_settings.confluent())
    base_ms = 1_767_225_600_000
    events = []
    for i in range(predictions):
        amount = rng.expovariate(1 / 150.0)
        events.append((f"e{i}", amount))
        record = {
            "event_id": f"e{i}",
            "event_time_ms": base_ms + i,
            "model": "fraud",
            "version": "3.2.0",
            "latency_ms": 5.0,
            "num_features": {"amount": amount, "items": float(rng.randint(1, 9))},
            "prediction_label": "legit",
        }
        producer.produce(prefix + "predictions", codec.encode("PredictionEvent", record), b"fraud")
    for i in range(20):
        record = {
            "event_id": f"c{i}",
            "event_time_ms": base_ms + i,
            "model": "churn",
            "version": "1",
            "latency_ms": 5.0,
            "num_features": {"tenure": 3.0},
        }
        producer.produce(prefix + "predictions", codec.encode("PredictionEvent", record), b"churn")
    producer.flush(30)
    for event_id, amount in events[:labelled]:
        record = {
            "event_id": event_id,
            "event_time_ms": base_ms + 10_000,
            "model": "fraud",
            "label": "fraud" if amount > 150 else "legit",
        }
        producer.produce(prefix + "feedback", codec.encode("FeedbackEvent", record), b"fraud")
    producer.flush(30)


def run_job(kafka_bootstrap, prefix, receiver, tmp_path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "loadtest.retrain_job"],
        cwd=REPO,
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "WK_TOPIC_PREFIX": prefix,
            "WK_RETRAIN_RUN_ID": "fraud-7",
            "WK_RETRAIN_MODEL": "fraud",
            "WK_RETRAIN_VERSION": "3.2.0",
            "WK_RETRAIN_CALLBACK_URL": receiver.url + CALLBACK,
            "WK_RETRAIN_CALLBACK_TOKEN": "run-token",
            "WK_RETRAIN_ARTIFACTS": str(tmp_path / "artifacts"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.kafka
def test_trainer_reports_a_candidate_trained_on_the_joined_recent_events(
    kafka_settings, kafka_bootstrap, prefix, receiver, tmp_path
):
    produce(kafka_settings, prefix, predictions=400, labelled=300)
    # The last 350 predictions: e50..e399, of which e50..e299 are labelled: 250 rows.
    done = run_job(kafka_bootstrap, prefix, receiver, tmp_path, WK_RETRAIN_MAX_EVENTS="350")
    assert done.returncode == 0, done.stderr
    bodies = [r.body for r in receiver.requests(CALLBACK)]
    assert [b["kind"] for b in bodies] == ["progress", "progress", "progress", "candidate"]
    assert bodies[1]["message"] == "read 350 predictions and 300 labels; 250 joined by event_id"
    assert {r.headers["authorization"] for r in receiver.requests()} == {"Bearer run-token"}
    candidate = bodies[-1]
    assert candidate["version"] == "3.2.0-r7"
    assert (
        candidate["params"]["train_rows"] == "200" and candidate["params"]["holdout_rows"] == "50"
    )
    assert candidate["params"]["features"] == "amount, items"
    assert 0.8 <= candidate["metrics"]["accuracy"] <= 1.0
    assert 0.8 <= candidate["metrics"]["auc"] <= 1.0
    [dataset] = candidate["datasets"]
    data_path = Path(urlparse(dataset["uri"]).path)
    assert data_path == tmp_path / "artifacts" / "fraud-7" / "training.csv"
    assert dataset["name"] == "fraud-training" and dataset["version"] == "3.2.0-r7"
    assert dataset["row_count"] == 250
    assert dataset["content_hash"] == file_digest(data_path)
    with open(data_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 250 and rows[0]["event_id"] == "e50" and rows[-1]["event_id"] == "e299"
    assert [r["split"] for r in rows].count("holdout") == 50
    with open(data_path.with_name("holdout.csv"), newline="") as handle:
        held = list(csv.DictReader(handle))  # what a policy's validation scores
    assert [r["event_id"] for r in held] == [r["event_id"] for r in rows[200:]]
    assert {r["label"] for r in held} <= {"0", "1"} and 0 <= float(held[0]["candidate_score"]) <= 1
    with open(urlparse(candidate["artifact_uri"]).path, "rb") as handle:
        model = pickle.load(handle)
    assert model.predict_proba_one({"amount": 900.0, "items": 3.0})[True] > 0.5


@pytest.mark.kafka
def test_trainer_without_enough_labels_reports_failed(
    kafka_settings, kafka_bootstrap, prefix, receiver, tmp_path
):
    produce(kafka_settings, prefix, predictions=30, labelled=10)
    done = run_job(kafka_bootstrap, prefix, receiver, tmp_path, WK_RETRAIN_NEW_VERSION="4.0.0")
    assert done.returncode == 1
    last = receiver.requests(CALLBACK)[-1].body
    assert last == {
        "kind": "failed",
        "reason": "ValueError: only 10 labelled predictions of fraud "
        "(at least 50 needed; WK_RETRAIN_MIN_ROWS)",
    }
    assert not (tmp_path / "artifacts").exists()


@pytest.mark.kafka
def test_trainer_refused_by_the_service_exits_2(kafka_bootstrap, prefix, receiver, tmp_path):
    receiver.script(CALLBACK, [], then=401)
    done = run_job(kafka_bootstrap, prefix, receiver, tmp_path)
    assert done.returncode == 2
    assert "refused the progress report with 401" in done.stderr
    assert len(receiver.requests(CALLBACK)) == 1
