"""drift as a real process on a real broker: a shift, a clean stream, late labels, a crash."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.drift.reference_store import read_all
from watchkeeper.codec import Codec
from watchkeeper.sdk import Emitter

from .helpers import consume, wait_for

pytestmark = pytest.mark.kafka
CODEC = Codec()
REPO = Path(__file__).resolve().parent.parent
NUMERIC = [f"f{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]


def row(rng: random.Random, shift: float = 0.0) -> tuple[dict, dict]:
    numbers = {name: rng.gauss(i, 1.0 + i / 10) for i, name in enumerate(NUMERIC)}
    numbers["f03"] += shift
    texts = {name: rng.choice(["a", "b", "c", "d"]) for name in CATEGORICAL}
    return numbers, texts


def set_reference(
    bootstrap: str, prefix: str, path: Path, *extra: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "services.drift",
            "reference",
            "--model",
            "fraud",
            "--version",
            "3",
            "--file",
            str(path),
            *extra,
        ],
        env={
            "PATH": "/usr/bin:/bin",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "WK_TOPIC_PREFIX": prefix,
        },
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def write_csv(path: Path, rng: random.Random, rows: int = 5000) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*NUMERIC, *CATEGORICAL])
        writer.writeheader()
        for _ in range(rows):
            numbers, texts = row(rng)
            writer.writerow({**numbers, **texts})
    return path


def emit(emitter: Emitter, rng: random.Random, count: int, shift: float = 0.0) -> list[str]:
    ids = []
    for i in range(count):
        numbers, texts = row(rng, shift)
        ids.append(
            emitter.prediction(
                model="fraud",
                version="3",
                latency_ms=5.0,
                num_features=numbers,
                cat_features=texts,
                label="fraud" if i % 10 == 0 else "legit",
            )
        )
    return ids


def test_a_shift_in_one_feature_raises_one_alert_and_one_retrain_request(
    kafka_settings, kafka_bootstrap, prefix, start_service, tmp_path
) -> None:
    rng = random.Random(21)
    result = set_reference(kafka_bootstrap, prefix, write_csv(tmp_path / "train.csv", rng))
    assert result.returncode == 0, result.stderr
    assert "set reference of fraud 3: 5000 rows, 20 numeric, 5 categorical" in result.stdout
    again = set_reference(kafka_bootstrap, prefix, tmp_path / "train.csv")
    assert again.returncode == 1 and "add --replace" in again.stderr

    drift = start_service("services.drift", prefix, WK_INSTANCE_ID="it-drift-1")
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-drift-shift")
    emit(emitter, rng, 6000)
    emit(emitter, rng, 6000, shift=5.0)
    assert emitter.close(30) == 0
    topic = prefix + "predictions"
    wait_for(
        lambda: drift.metric("wk_events_processed_total", service="drift", topic=topic) >= 12_000,
        what="12,000 predictions processed",
    )

    alerts = [
        CODEC.decode_as("Alert", m.value())
        for m in consume(kafka_settings, prefix + "alerts", 2, timeout=10)
    ]
    assert [
        (a["status"], a["labels"]["alertname"], a["labels"].get("feature")) for a in alerts
    ] == [("FIRING", "FeatureDrift", "f03")]
    requests = [
        CODEC.decode_as("RetrainRequest", m.value())
        for m in consume(kafka_settings, prefix + "retrain-requests", 2, timeout=5)
    ]
    assert [(r["reason"], r["evidence"]["feature"]) for r in requests] == [("DRIFT", "f03")]
    reports = consume(kafka_settings, prefix + "drift-reports", 10, timeout=10)
    assert len(reports) == 10
    assert (
        drift.metric("wk_drift_feature_drifted", model="fraud", version="3", feature="f03") == 1.0
    )
    assert drift.stop() == 0


def test_a_drift_free_stream_of_100000_events_raises_nothing(
    kafka_settings, kafka_bootstrap, prefix, start_service, tmp_path
) -> None:
    rng = random.Random(22)
    table = {name: [] for name in (*NUMERIC, *CATEGORICAL)}
    for _ in range(5000):
        numbers, texts = row(rng)
        for name, value in (*numbers.items(), *texts.items()):
            table[name].append(value)
    pq.write_table(pa.table(table), tmp_path / "train.parquet")
    result = set_reference(kafka_bootstrap, prefix, tmp_path / "train.parquet")
    assert result.returncode == 0, result.stderr

    drift = start_service("services.drift", prefix, WK_INSTANCE_ID="it-drift-2")
    emitter = Emitter(
        kafka_settings, prefix=prefix, client_id="it-drift-clean", buffer_size=200_000
    )
    emit(emitter, rng, 100_000)
    assert emitter.close(60) == 0
    topic = prefix + "predictions"
    wait_for(
        lambda: drift.metric("wk_events_processed_total", service="drift", topic=topic) >= 100_000,
        timeout=180,
        what="100,000 predictions processed",
    )
    assert drift.metric("wk_drift_evaluations_total", model="fraud", version="3") == 200
    assert consume(kafka_settings, prefix + "alerts", 1, timeout=5) == []
    assert consume(kafka_settings, prefix + "retrain-requests", 1, timeout=2) == []
    assert drift.stop() == 0


def test_late_labels_that_degrade_accuracy_raise_a_performance_alert(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    config = tmp_path / "drift.yaml"
    config.write_text(
        "defaults:\n  reference_events: 1000\n  label_window: 300\n  min_labels: 100\n"
    )
    drift = start_service(
        "services.drift", prefix, WK_DRIFT_CONFIG=str(config), WK_INSTANCE_ID="it-drift-3"
    )
    rng = random.Random(23)
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-drift-labels")
    ids = []
    for i in range(2000):
        numbers, texts = row(rng)
        ids.append(
            emitter.prediction(
                model="fraud",
                version="3",
                latency_ms=5.0,
                num_features=numbers,
                cat_features=texts,
                label="fraud" if i % 10 == 0 else "legit",
            )
        )
    emitter.flush(30)
    # Hours later in event time, the truth arrives: right at first, wrong from 1,000 on.
    later = int(time.time() * 1000) + 3_600_000
    for i, event_id in enumerate(ids):
        predicted = "fraud" if i % 10 == 0 else "legit"
        truth = predicted if i < 1000 else ("legit" if predicted == "fraud" else "fraud")
        emitter.feedback(event_id=event_id, model="fraud", label=truth, event_time_ms=later + i)
    emitter.feedback(event_id="never-predicted", model="fraud", label="legit")
    assert emitter.close(30) == 0
    wait_for(
        lambda: drift.metric("wk_drift_labels_total", outcome="joined") >= 2000,
        what="labels joined",
    )
    wait_for(
        lambda: drift.metric("wk_drift_labels_total", outcome="unknown") >= 1,
        what="the label of an unknown prediction counted",
    )
    assert drift.metric("wk_drift_labels_total", outcome="unknown") == 1
    alerts = [
        CODEC.decode_as("Alert", m.value())
        for m in consume(kafka_settings, prefix + "alerts", 4, timeout=10)
    ]
    firing = {a["labels"]["alertname"]: a for a in alerts if a["status"] == "FIRING"}
    assert "PerformanceDegraded" in firing
    degraded = firing["PerformanceDegraded"]
    assert degraded["labels"]["statistic"] == "accuracy"
    assert degraded["starts_at_ms"] >= later + 1000  # raised by the late labels themselves
    requests = [
        CODEC.decode_as("RetrainRequest", m.value())
        for m in consume(kafka_settings, prefix + "retrain-requests", 2, timeout=5)
    ]
    assert [r["reason"] for r in requests] == ["PERFORMANCE"]
    assert drift.stop() == 0


def test_a_killed_worker_keeps_its_pending_predictions_and_references(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    config = tmp_path / "drift.yaml"
    config.write_text("defaults:\n  reference_events: 1000\n")
    env = {"WK_DRIFT_CONFIG": str(config), "WK_INSTANCE_ID": "it-drift-4"}
    drift = start_service("services.drift", prefix, **env)
    rng = random.Random(24)
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-drift-kill")
    ids = emit(emitter, rng, 1500)  # the first 1,000 become the reference
    emitter.flush(30)
    topic = prefix + "predictions"
    wait_for(
        lambda: (
            drift.metric("wk_events_processed_total", service="drift", topic=topic) >= 1500
            and drift.metric("wk_engine_commits_total", service="drift") >= 1
        ),
        what="predictions processed and committed",
    )
    time.sleep(1.0)  # a commit after the last batch
    assert drift.metric("wk_drift_references_total", origin="production") == 1
    drift.kill()

    restarted = start_service("services.drift", prefix, **env)
    for event_id in ids:
        emitter.feedback(event_id=event_id, model="fraud", label="legit")
    assert emitter.close(30) == 0
    wait_for(
        lambda: restarted.metric("wk_drift_labels_total", outcome="joined") >= 1500,
        what="every label joined after the restart",
    )
    assert restarted.metric("wk_drift_labels_total", outcome="unknown") == 0
    # The reference built before the crash was kept: none was built again.
    assert restarted.metric("wk_drift_references_total", origin="production") == 0
    references = read_all(kafka_settings, prefix + "drift-references")
    assert list(references) == [("fraud", "3", None)]
    assert references[("fraud", "3", None)].source == "production: first 1000 events"
    assert restarted.stop() == 0
