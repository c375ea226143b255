"""fairness as a real process on a real broker: a biased decision stream is alerted and a
fair one of the same size is not; labels join across a SIGKILL; windows count exactly once."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from watchkeeper.codec import Codec
from watchkeeper.sdk import Emitter

from .helpers import consume

pytestmark = pytest.mark.kafka
CODEC = Codec()
WINDOW_MS = 10_000
SETTINGS = """
defaults:
  window: 10s
  min_group_size: 30
  for: 1
models:
  biased: {protected: [gender], favorable: [approve]}
  fair: {protected: [gender], favorable: [approve]}
  credit: {protected: [gender], favorable: [approve]}
"""


def metric(process, name: str, /, **labels: str) -> float:
    """A metric of the running service; a scrape refused by a busy machine is retried."""
    for _ in range(20):
        try:
            return process.metric(name, **labels)
        except OSError:
            time.sleep(0.25)
    return process.metric(name, **labels)


def start_fairness(start_service, prefix: str, tmp_path: Path):
    path = tmp_path / "fairness.yaml"
    path.write_text(SETTINGS)
    return start_service(
        "services.fairness",
        prefix,
        WK_FAIRNESS_CONFIG=str(path),
        WK_FAIRNESS_GRACE_S="0.5",
        WK_FAIRNESS_IDLE_S="600",  # windows close by event time only
        WK_INSTANCE_ID="it-fairness",
    )


def window_start() -> int:
    now = int(time.time() * 1000)
    return now - now % WINDOW_MS - 6 * WINDOW_MS  # the recent past, closed by our events


def decisions(model: str, rates: dict[str, float], n: int, start: int, seed: int) -> list[dict]:
    """``n`` decisions per group, favourable at exactly the given rates, shuffled."""
    rng = random.Random(seed)
    events = []
    for group, rate in rates.items():
        chosen = set(rng.sample(range(n), round(rate * n)))
        events += [{"group": group, "approve": i in chosen} for i in range(n)]
    rng.shuffle(events)
    return [
        {
            "model": model,
            "version": "1",
            "latency_ms": 3.0,
            "label": "approve" if e["approve"] else "deny",
            "segments": {"gender": e["group"]},
            "event_time_ms": start + i * (WINDOW_MS - 1000) // len(events),
        }
        for i, e in enumerate(events)
    ]


def fairness_messages(kafka_settings, prefix: str, topic: str, schema: str, count: int, timeout):
    return [
        CODEC.decode_as(schema, m.value())
        for m in consume(kafka_settings, prefix + topic, count, timeout=timeout)
    ]


def test_a_biased_stream_raises_disparate_impact_and_a_fair_one_of_the_same_size_none(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    fairness = start_fairness(start_service, prefix, tmp_path)
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-fairness-bias")
    start = window_start()
    ids: dict[str, list[str]] = {"biased": [], "fair": []}
    for model, rates in (("biased", {"f": 0.3, "m": 0.6}), ("fair", {"f": 0.45, "m": 0.45})):
        for event in decisions(model, rates, n=300, start=start, seed=2):
            ids[model].append(emitter.prediction(**event))
    assert emitter.flush(30) == 0
    # Two topics have no order between them, and a label that arrives before its
    # prediction finds nothing to join: let the predictions in first.
    deadline = time.monotonic() + 45
    total = sum(len(v) for v in ids.values())
    while metric(fairness, "wk_fairness_events_total", outcome="counted") < total:
        assert time.monotonic() < deadline, "the predictions were not counted in time"
        time.sleep(0.2)
    # Ground truth for the biased model: everyone deserved approval, so its true positive
    # rates are its selection rates (0.3 against 0.6): equal opportunity breaks too.
    for event_id in ids["biased"]:
        emitter.feedback(
            event_id=event_id, model="biased", label="approve", event_time_ms=start + 9_500
        )
    assert emitter.flush(30) == 0
    # Let the labels in before the window closes.
    deadline = time.monotonic() + 45
    while metric(fairness, "wk_fairness_labels_total", outcome="joined") < 600:
        assert time.monotonic() < deadline, "the labels were not joined in time"
        time.sleep(0.2)
    for model in ("biased", "fair"):  # one more event per model closes its window
        emitter.prediction(
            model=model,
            version="1",
            latency_ms=3.0,
            label="deny",
            segments={"gender": "f"},
            event_time_ms=start + WINDOW_MS + 1_000,
        )
    assert emitter.close(30) == 0

    reports = fairness_messages(
        kafka_settings, prefix, "fairness-reports", "FairnessReport", 2, timeout=45
    )
    by_model = {r["model"]: r for r in reports}
    assert set(by_model) == {"biased", "fair"}
    assert by_model["biased"]["events"] == by_model["fair"]["events"] == 600
    biased, fair = by_model["biased"], by_model["fair"]
    assert biased["disparate_impact"]["value"] == pytest.approx(0.5)
    assert biased["disparate_impact"]["breached"] is True
    assert fair["disparate_impact"]["value"] == pytest.approx(1.0)
    assert fair["disparate_impact"]["breached"] is False
    tpr = {g["group"]: g["tpr"] for g in biased["groups"]}
    assert tpr == {"f": pytest.approx(0.3), "m": pytest.approx(0.6)}  # labels joined

    alerts = fairness_messages(kafka_settings, prefix, "alerts", "Alert", 10, timeout=5)
    fired = {(a["labels"]["model"], a["labels"]["alertname"]) for a in alerts}
    assert ("biased", "DisparateImpact") in fired
    assert ("biased", "EqualOpportunityDifference") in fired
    assert not any(model == "fair" for model, _ in fired)
    assert all(a["status"] == "FIRING" for a in alerts)
    assert metric(fairness, "wk_fairness_labels_total", outcome="joined") == 600
    assert fairness.stop() == 0


def test_sigkill_mid_window_loses_and_doubles_nothing_and_labels_still_join(
    kafka_settings, prefix, start_service, tmp_path
) -> None:
    start = window_start()
    events = decisions("credit", {"f": 0.4, "m": 0.5}, n=2000, start=start, seed=5)
    emitter = Emitter(kafka_settings, prefix=prefix, client_id="it-fairness-kill")
    sent: list[str] = []

    def emit() -> None:
        for i, event in enumerate(events):
            sent.append(emitter.prediction(**event))
            if i % 100 == 0:
                time.sleep(0.05)  # about 2 s of traffic, so the kill lands mid-stream
        emitter.flush(30)

    sender = threading.Thread(target=emit)
    fairness = start_fairness(start_service, prefix, tmp_path)
    sender.start()
    topic = prefix + "predictions"

    def progressed() -> bool:
        done = metric(fairness, "wk_events_processed_total", service="fairness", topic=topic)
        return done > 1000 and metric(fairness, "wk_engine_commits_total", service="fairness") >= 2

    deadline = time.monotonic() + 45
    while not progressed():
        assert time.monotonic() < deadline, "the first events were not processed in time"
        time.sleep(0.2)
    fairness.kill()  # SIGKILL: no commit, no goodbye
    restarted = start_fairness(start_service, prefix, tmp_path)
    sender.join()
    # Labels for every prediction, most of them made before the crash.
    for event_id in sent:
        emitter.feedback(
            event_id=event_id, model="credit", label="approve", event_time_ms=start + 9_500
        )
    assert emitter.flush(30) == 0
    deadline = time.monotonic() + 45  # two topics have no order: labels first, then close
    while metric(restarted, "wk_fairness_labels_total", outcome="joined") < len(events):
        assert time.monotonic() < deadline, "the labels were not joined in time"
        time.sleep(0.2)
    emitter.prediction(
        model="credit",
        version="1",
        latency_ms=3.0,
        label="deny",
        segments={"gender": "f"},
        event_time_ms=start + WINDOW_MS + 1_000,
    )
    assert emitter.close(30) == 0

    (report,) = fairness_messages(
        kafka_settings, prefix, "fairness-reports", "FairnessReport", 1, timeout=45
    )
    groups = {g["group"]: g for g in report["groups"]}
    assert report["window_start_ms"] == start
    assert report["events"] == 4000  # every decision once: none lost, none counted twice
    assert (groups["f"]["selected"], groups["m"]["selected"]) == (800, 1000)
    assert groups["f"]["positives"] + groups["m"]["positives"] == 4000  # every label joined
    assert metric(restarted, "wk_engine_state_records_restored_total", service="fairness") > 0
    # Nothing more: the killed instance's uncommitted work never became visible.
    assert len(consume(kafka_settings, prefix + "fairness-reports", 2, timeout=3)) == 1
    assert restarted.stop() == 0
