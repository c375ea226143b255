"""The drift task without Kafka: what it publishes for a shift, a clean stream, late labels,
bad values, and what it keeps across a restart."""

from __future__ import annotations

import json
import random

import pytest

from services.drift.config import DriftConfig, MonitorSettings
from services.drift.profile import build
from services.drift.reference_store import ReferenceStore
from services.drift.task import DriftTask
from watchkeeper.codec import Codec
from watchkeeper.settings import KafkaSettings, ServiceSettings

CODEC = Codec()
T0 = 1_767_225_600_000


def make_task(settings: MonitorSettings | None = None, reference=None, **config):
    store = ReferenceStore(KafkaSettings(), "unused")
    if reference is not None:
        store.put(reference)
    drift = DriftConfig(
        service=ServiceSettings(name="drift"), defaults=settings or MonitorSettings(), **config
    )
    return DriftTask(0, drift, store, CODEC, clock=lambda: T0 / 1000), store


def features(rng: random.Random, shift: float = 0.0) -> tuple[dict, dict]:
    numbers = {f"f{i}": rng.gauss(10.0 * i, 1.0 + i) for i in range(8)}
    numbers["amount"] = rng.lognormvariate(3.0, 0.5) + shift
    texts = {"channel": rng.choice(["web", "app", "pos"]), "plan": rng.choice(["free", "pro"])}
    return numbers, texts


def reference_for(rng: random.Random, rows: int = 5000):
    data = []
    for _ in range(rows):
        numbers, texts = features(rng)
        data.append({**numbers, **texts, "pred": rng.choice(["legit"] * 9 + ["fraud"])})
    return build("fraud", "3", data, "test rows", prediction_column="pred")


def prediction(i: int, numbers: dict, texts: dict, label: str | None = None, **extra) -> dict:
    # The model's output, distributed as in the reference unless the test says otherwise.
    label = label or ("fraud" if i % 10 == 0 else "legit")
    return {
        "event_id": f"e{i}",
        "event_time_ms": T0 + i,
        "model": "fraud",
        "version": "3",
        "segments": {},
        "num_features": numbers,
        "cat_features": texts,
        "prediction_label": label,
        "prediction_value": None,
        "score": None,
        **extra,
    }


def decoded(task: DriftTask, topic: str) -> list[dict]:
    outputs, _ = task.drain()
    schema = {
        "alerts": "Alert",
        "retrain-requests": "RetrainRequest",
        "drift-reports": "DriftReport",
    }[topic]
    return [CODEC.decode_as(schema, o.value) for o in outputs if o.topic == topic]


def run(task: DriftTask, events) -> tuple[list[dict], list[dict], list[dict]]:
    alerts, retrains, reports = [], [], []
    for event in events:
        task.process("predictions", event)
        outputs, _ = task.drain()
        for out in outputs:
            if out.topic == "alerts":
                alerts.append(CODEC.decode_as("Alert", out.value))
            elif out.topic == "retrain-requests":
                retrains.append(CODEC.decode_as("RetrainRequest", out.value))
            elif out.topic == "drift-reports":
                reports.append(CODEC.decode_as("DriftReport", out.value))
    return alerts, retrains, reports


def test_an_abrupt_shift_in_one_feature_raises_one_alert_and_one_retrain_request() -> None:
    rng = random.Random(11)
    task, _ = make_task(reference=reference_for(rng))
    events = []
    for i in range(12_000):
        numbers, texts = features(rng, shift=30.0 if i >= 6000 else 0.0)
        events.append(prediction(i, numbers, texts))
    alerts, retrains, reports = run(task, events)
    assert [(a["status"], a["labels"]["alertname"], a["labels"]["feature"]) for a in alerts] == [
        ("FIRING", "FeatureDrift", "amount")
    ]
    alert = alerts[0]
    assert alert["labels"]["model"] == "fraud" and alert["labels"]["version"] == "3"
    assert alert["labels"]["statistic"] in ("adwin", "psi", "distance")
    assert 6000 <= alert["starts_at_ms"] - T0 < 6500
    (request,) = retrains
    assert (request["reason"], request["evidence"]["feature"]) == ("DRIFT", "amount")
    assert request["dedup_key"].startswith("fraud:3:drift:")
    last = reports[-1]
    rows = {f["feature"]: f for f in last["features"]}
    assert rows["amount"]["drifted"] and rows["amount"]["psi"] > 0.2
    assert not any(r["drifted"] for name, r in rows.items() if name != "amount")
    assert last["share_drifted"] == pytest.approx(1 / 11)  # 9 numeric + 2 categorical
    assert last["dataset_drift"] is False


def test_a_stationary_stream_raises_nothing() -> None:
    rng = random.Random(5)
    task, _ = make_task(reference=reference_for(rng))
    events = [prediction(i, *features(rng)) for i in range(30_000)]
    alerts, retrains, reports = run(task, events)
    assert alerts == [] and retrains == []
    # One report per step of 500 events (min_samples is 500: every step reports).
    assert len(reports) == 30_000 // 500


def test_bad_values_are_counted_and_kept_out_of_the_statistics() -> None:
    rng = random.Random(3)
    task, _ = make_task(reference=reference_for(rng))
    events = []
    for i in range(1500):
        numbers, texts = features(rng)
        if i % 10 == 0:
            numbers["amount"] = float("nan")
        if i % 25 == 0:
            del numbers["f1"]
        if i % 50 == 0:
            numbers["coupon"] = 1.0
            texts["f2"] = "oops"  # a numeric feature sent as a category
            del numbers["f2"]
        events.append(prediction(i, numbers, texts))
    alerts, _, reports = run(task, events)
    assert alerts == []
    report = reports[-1]
    rows = {f["feature"]: f for f in report["features"]}

    def total(feature: str, count: str) -> int:
        return sum(f[count] for r in reports for f in r["features"] if f["feature"] == feature)

    invalid, missing, wrong = (
        total("amount", "invalid"),
        total("f1", "missing"),
        total("f2", "wrong_type"),
    )
    assert rows["amount"]["drifted"] is False
    assert invalid > 0 and missing > 0 and wrong > 0
    assert sum(r["unseen_features"].get("coupon", 0) for r in reports) > 0


def test_late_labels_that_degrade_accuracy_raise_a_performance_alert() -> None:
    rng = random.Random(8)
    settings = MonitorSettings(label_window=200, min_labels=100, reference_events=500)
    task, _ = make_task(settings)
    for i in range(3000):
        numbers, texts = features(rng)
        task.process("predictions", prediction(i, numbers, texts, label="legit"))
    task.drain()
    alerts = []
    for i in range(3000):  # labels arrive later, in order; the model goes wrong after 1500
        truth = "legit" if (i < 1500 and i % 20) else "fraud"
        task.process(
            "feedback",
            {
                "event_id": f"e{i}",
                "event_time_ms": T0 + 10**7 + i,
                "model": "fraud",
                "version": None,
                "label": truth,
                "value": None,
            },
        )
        alerts += decoded(task, "alerts")
    names = [(a["labels"]["alertname"], a["status"]) for a in alerts]
    assert ("PerformanceDegraded", "FIRING") in names
    fired = next(a for a in alerts if a["labels"]["alertname"] == "PerformanceDegraded")
    assert fired["value"] < fired["threshold"] < 0.96
    assert fired["starts_at_ms"] > T0 + 10**7 + 1500


def test_labels_for_unknown_predictions_are_counted_not_lost() -> None:
    task, _ = make_task()
    before = task.pending.counts["unknown"]
    task.process(
        "feedback",
        {
            "event_id": "never-seen",
            "event_time_ms": T0,
            "model": "fraud",
            "version": None,
            "label": "fraud",
            "value": None,
        },
    )
    assert task.pending.counts["unknown"] == before + 1


def test_without_a_reference_the_first_events_become_one_and_are_published() -> None:
    rng = random.Random(2)
    task, store = make_task(MonitorSettings(reference_events=800))
    outputs = []
    for i in range(800):
        task.process("predictions", prediction(i, *features(rng)))
        outputs += task.drain()[0]
    (published,) = [o for o in outputs if o.topic == "drift-references"]
    assert published.key == b"fraud\x003"
    reference = json.loads(published.value)
    assert reference["source"] == "production: first 800 events"
    assert set(reference["numeric"]) == {*(f"f{i}" for i in range(8)), "amount"}
    assert store.get("fraud", "3") is not None


def test_pending_predictions_and_verdicts_survive_a_restore() -> None:
    rng = random.Random(4)
    reference = reference_for(rng)
    first, _ = make_task(MonitorSettings(label_window=100, min_labels=50), reference=reference)
    changes: list = []
    for i in range(300):
        first.process("predictions", prediction(i, *features(rng)))
        changes += first.drain()[1]
    second, _ = make_task(MonitorSettings(label_window=100, min_labels=50), reference=reference)
    for key, value in changes:
        second.restore(key, value)
    # The pending store is rebuilt from the packed log once the changelog was read.
    second.restored()
    second.process(
        "feedback",
        {
            "event_id": "e7",
            "event_time_ms": T0 + 10**6,
            "model": "fraud",
            "version": None,
            "label": "legit",
            "value": None,
        },
    )
    assert second.pending.counts["joined"] == 1 and len(second.pending) == 299
    # ... and a third restore, after that label, no longer holds e7.
    third, _ = make_task(MonitorSettings(label_window=100, min_labels=50), reference=reference)
    for key, value in changes + second.drain()[1]:
        third.restore(key, value)
    third.restored()
    third.drain()
    assert len(third.pending) == 299 and "e7" not in third.pending


def test_the_stacked_evaluation_gives_each_feature_its_own_answer() -> None:
    # evaluate_numeric stacks features of different bin counts (padded edges) and searches
    # sorted rows; each row must match the feature evaluated alone.
    from services.drift.features import evaluate_numeric
    from services.drift.monitor import ModelMonitor

    rng = random.Random(11)
    rows = [
        {
            "wide": rng.gauss(0, 1),
            "narrow": float(rng.choice([1, 2, 3])),
            "skewed": rng.expovariate(1),
        }
        for _ in range(4000)
    ]
    monitor = ModelMonitor(("m", "1", None), MonitorSettings(), build("m", "1", rows, "test"))
    widths = {len(f.edges) for _, f in monitor.numeric}
    assert len(widths) > 1, "the test needs features with different bin counts"
    for i in range(1000):
        shift = 0.8 if i > 600 else 0.0
        monitor.observe(
            {
                "num_features": {
                    "wide": rng.gauss(shift, 1),
                    "narrow": float(rng.choice([1, 2, 3])),
                    "skewed": rng.expovariate(1) + shift,
                },
                "cat_features": {},
                "prediction_label": None,
                "prediction_value": None,
                "score": None,
            }
        )
    features = [f for _, f in monitor.numeric]
    stacked = evaluate_numeric(features)
    for feature, together in zip(features, stacked, strict=True):
        alone = feature.evaluate()
        assert together.feature == alone.feature
        for name in ("psi", "distance", "p_value", "wasserstein"):
            assert getattr(together, name) == pytest.approx(
                getattr(alone, name), rel=1e-9, abs=1e-12
            )
    assert any(r.psi > 0.1 for r in stacked) and any(r.psi < 0.1 for r in stacked)
