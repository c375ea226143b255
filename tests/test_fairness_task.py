"""The fairness task without Kafka, on an injected clock: windows per model version and
attribute, labels joined to predictions, alerts, restore, bad input, configuration."""

from __future__ import annotations

import itertools
import random

import pytest

from services.fairness.config import FairnessConfig
from services.fairness.task import FairnessTask, FutureEvent
from watchkeeper.codec import Codec
from watchkeeper.settings import ServiceSettings
from watchkeeper.yamlconf import ConfigFileError

CODEC = Codec()
T0 = 1_767_225_600_000
EXAMPLE = CODEC.registry.examples("PredictionEvent")["fraud_ok"]
SCHEMAS = {"fairness-reports": "FairnessReport", "alerts": "Alert"}
SETTINGS = """
defaults: {window: 10s, min_group_size: 30, for: 1}
models:
  credit: {protected: [gender, age], favorable: [approve]}
  scored: {protected: [gender], score_threshold: 0.5}
"""
_ids = itertools.count()


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000.0


def make_task(clock: Clock, text: str = SETTINGS, **overrides) -> FairnessTask:
    config = FairnessConfig(ServiceSettings("fairness"), grace_ms=1000, **overrides)
    return FairnessTask(0, config.with_text(text, "fairness.yaml"), CODEC, clock)


def decision(t_ms: int, gender: str | None, approve: bool, model: str = "credit", **kw) -> dict:
    segments = {"age": "30-39"} if gender is None else {"gender": gender, "age": "30-39"}
    record = {
        **EXAMPLE,
        "event_id": f"d{next(_ids)}",
        "event_time_ms": t_ms,
        "model": model,
        "version": "2",
        "segments": segments,
        "prediction_label": "approve" if approve else "deny",
    }
    record.update(kw)
    return record


def label(event_id: str, t_ms: int, deserved: bool | None, model: str = "credit") -> dict:
    return {
        "event_id": event_id,
        "event_time_ms": t_ms,
        "model": model,
        "version": None,
        "label": None if deserved is None else ("approve" if deserved else "deny"),
        "value": None,
    }


class Recorder:
    def __init__(self, task: FairnessTask, clock: Clock) -> None:
        self.task, self.clock = task, clock
        self.out: dict[str, list[dict]] = {t: [] for t in SCHEMAS}
        self.changelog: list[tuple[bytes, bytes | None]] = []

    def send(self, topic: str, records: list[dict]) -> None:
        for record in records:
            self.clock.ms = max(self.clock.ms, record["event_time_ms"])
            self.task.process(topic, record)
        self.task.tick(self.clock.ms)
        outputs, changes = self.task.drain()
        self.changelog += changes
        for output in outputs:
            self.out[output.topic].append(CODEC.decode_as(SCHEMAS[output.topic], output.value))

    def window(self, start: int, rates: dict[str, float], n: int = 200, seed: int = 1) -> list:
        """``n`` decisions per group, favourable at the given rates (exactly)."""
        rng = random.Random(seed)
        records = []
        for group, rate in rates.items():
            chosen = set(rng.sample(range(n), round(rate * n)))
            records += [decision(0, group, i in chosen) for i in range(n)]
        rng.shuffle(records)
        for i, record in enumerate(records):
            record["event_time_ms"] = start + i * 9000 // len(records)
        self.send("predictions", records)
        return records

    def alerts(self, name: str | None = None) -> list[tuple[str, str]]:
        return [
            (a["status"], a["labels"]["attribute"])
            for a in self.out["alerts"]
            if name is None or a["labels"]["alertname"] == name
        ]

    def reports(self, attribute: str = "gender") -> list[dict]:
        return [r for r in self.out["fairness-reports"] if r["attribute"] == attribute]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def test_a_biased_stream_raises_disparate_impact_and_a_fair_one_of_the_same_size_none(
    clock,
) -> None:
    biased = Recorder(make_task(clock), clock)
    biased.window(T0, {"f": 0.3, "m": 0.6})
    biased.window(T0 + 10_000, {"f": 0.3, "m": 0.6})  # closes the first window
    assert ("FIRING", "gender") in biased.alerts("DisparateImpact")
    (report,) = biased.reports()
    assert report["events"] == 400 and report["reference_group"] == "m"
    assert report["disparate_impact"]["value"] == pytest.approx(0.5)
    assert report["disparate_impact"]["breached"] is True
    rates = {g["group"]: g["selection_rate"] for g in report["groups"]}
    assert rates == {"f": pytest.approx(0.3), "m": pytest.approx(0.6)}
    assert biased.alerts() and {a for _, a in biased.alerts()} == {"gender"}  # age: one group

    clock2 = Clock(T0)
    fair = Recorder(make_task(clock2), clock2)
    fair.window(T0, {"f": 0.45, "m": 0.45})
    fair.window(T0 + 10_000, {"f": 0.45, "m": 0.45})
    assert fair.alerts() == []
    (fair_report,) = fair.reports()
    assert fair_report["events"] == 400
    assert fair_report["disparate_impact"]["breached"] is False


def test_the_alert_resolves_when_a_window_is_fair_and_not_on_thin_data(clock) -> None:
    run = Recorder(make_task(clock), clock)
    run.window(T0, {"f": 0.3, "m": 0.6})
    run.window(T0 + 10_000, {"f": 0.3, "m": 0.6}, n=10)  # too few: no verdict
    run.window(T0 + 20_000, {"f": 0.5, "m": 0.5})
    assert [s for s, _ in run.alerts("DisparateImpact")] == ["FIRING"]
    run.window(T0 + 30_000, {"f": 0.5, "m": 0.5})
    assert [s for s, _ in run.alerts("DisparateImpact")] == ["FIRING", "RESOLVED"]
    firing, resolved = [
        a for a in run.out["alerts"] if a["labels"]["alertname"] == "DisparateImpact"
    ]
    assert firing["fingerprint"] == resolved["fingerprint"]
    assert resolved["starts_at_ms"] == firing["starts_at_ms"] == T0 + 10_000
    assert resolved["ends_at_ms"] == T0 + 30_000


def test_for_two_windows_needs_two_breaches_in_a_row(clock) -> None:
    run = Recorder(make_task(clock, SETTINGS.replace("for: 1", "for: 2")), clock)
    run.window(T0, {"f": 0.3, "m": 0.6})
    run.window(T0 + 10_000, {"f": 0.5, "m": 0.5})
    run.window(T0 + 20_000, {"f": 0.3, "m": 0.6})
    assert run.alerts("DisparateImpact") == []
    run.window(T0 + 30_000, {"f": 0.3, "m": 0.6})
    run.window(T0 + 40_000, {"f": 0.3, "m": 0.6})
    assert run.alerts("DisparateImpact") == [("FIRING", "gender")]


def test_labels_join_their_predictions_for_equal_opportunity(clock) -> None:
    run = Recorder(make_task(clock), clock)
    records = run.window(T0, {"f": 0.5, "m": 0.5})
    # f's approvals were deserved and its denials not; m's the other way round: the same
    # selection rates, but TPR 1.0 for f and 0.0 for m.
    labels = []
    for i, record in enumerate(records):
        group = record["segments"]["gender"]
        approved = record["prediction_label"] == "approve"
        deserved = approved if group == "f" else not approved
        labels.append(label(record["event_id"], T0 + 9_500 + i % 400, deserved))
    labels.append(label("never-seen", T0 + 9_600, True))
    run.send("feedback", labels)
    run.window(T0 + 10_000, {"f": 0.5, "m": 0.5})
    (report,) = run.reports()
    groups = {g["group"]: g for g in report["groups"]}
    assert groups["f"]["positives"] == 100 and groups["f"]["tpr"] == 1.0
    assert groups["m"]["positives"] == 100 and groups["m"]["tpr"] == 0.0
    assert groups["m"]["fpr"] == 1.0 and groups["f"]["fpr"] == 0.0
    assert report["equal_opportunity_difference"]["value"] == 1.0
    assert ("FIRING", "gender") in run.alerts("EqualOpportunityDifference")
    assert ("FIRING", "gender") in run.alerts("EqualizedOddsDifference")
    assert run.alerts("DisparateImpact") == []
    assert len(run.task.pending) == 400  # the second window's predictions wait for labels


def test_score_thresholds_undecided_unattributed_and_unmonitored_events(clock) -> None:
    run = Recorder(make_task(clock), clock)
    run.send(
        "predictions",
        [
            decision(T0, "f", False, model="scored", prediction_label=None, score=0.7),
            decision(T0, "f", False, model="scored", prediction_label=None, score=0.2),
            decision(T0, "f", False, model="scored", prediction_label=None, score=None),
            decision(T0, None, True),  # no gender: counted as unattributed for gender
            decision(T0, "f", True, model="unknown-model"),
        ],
    )
    window = run.task.series[("scored", "2")].windows[T0]
    assert window.tables["gender"]["f"][:2] == [2, 1]
    credit = run.task.series[("credit", "2")].windows[T0]
    assert credit.unattributed == {"gender": 1} and "gender" not in credit.tables
    assert credit.tables["age"]["30-39"][:2] == [1, 1]
    assert ("unknown-model", "2") not in run.task.series


def test_groups_beyond_the_cap_fold_into_other(clock) -> None:
    run = Recorder(make_task(clock, SETTINGS.replace("for: 1", "for: 1, max_groups: 2")), clock)
    run.send("predictions", [decision(T0 + i, g, True) for i, g in enumerate("abcde")])
    table = run.task.series[("credit", "2")].windows[T0].tables["gender"]
    assert sorted(table) == ["_other", "a", "b"] and table["_other"][0] == 3


def test_an_event_far_in_the_future_is_refused(clock) -> None:
    task = make_task(clock)
    with pytest.raises(FutureEvent, match="ahead of this service's clock"):
        task.process("predictions", decision(T0 + 3_600_000, "f", True))
    fine = decision(T0, "f", True)
    task.process("predictions", fine)  # and the next one is fine
    assert task.series[("credit", "2")].windows[T0].tables["gender"]["f"][0] == 1
    with pytest.raises(FutureEvent):  # a label from the future is refused before the join
        task.process("feedback", label(fine["event_id"], T0 + 3_600_000, True))
    task.process("feedback", label(fine["event_id"], T0 + 10, True))
    assert task.series[("credit", "2")].windows[T0].tables["gender"]["f"][2:4] == [1, 1]


def test_restore_keeps_windows_alert_states_and_predictions_awaiting_labels(clock) -> None:
    first = Recorder(make_task(clock), clock)
    first.window(T0, {"f": 0.3, "m": 0.6})
    records = first.window(T0 + 10_000, {"f": 0.3, "m": 0.6})
    assert [s for s, _ in first.alerts("DisparateImpact")] == ["FIRING"]
    second = Recorder(make_task(clock), clock)
    for key, value in first.changelog:
        second.task.restore(key, value)
    second.task.restored()
    # Labels for predictions made before the restart join after it.
    second.send("feedback", [label(r["event_id"], T0 + 19_000, True) for r in records])
    second.window(T0 + 20_000, {"f": 0.5, "m": 0.5})
    (report,) = second.reports()  # the window that was open at the restart
    assert report["window_start_ms"] == T0 + 10_000 and report["events"] == 400
    assert sum(g["positives"] for g in report["groups"]) == 400
    # The alert state survived: the same incident is not raised again, it stays open.
    assert second.alerts("DisparateImpact") == []
    second.window(T0 + 30_000, {"f": 0.5, "m": 0.5})
    assert [s for s, _ in second.alerts("DisparateImpact")] == ["RESOLVED"]


def test_predictions_awaiting_labels_are_one_changelog_record_per_commit(clock) -> None:
    run = Recorder(make_task(clock), clock)
    records = run.window(T0, {"f": 0.3, "m": 0.6})  # 400 predictions, one drain
    pending = [k for k, v in run.changelog if k.startswith(b"pb\x00") and v is not None]
    assert len(pending) == 1 and len(run.task.pending) == len(records)
    run.send("feedback", [label(r["event_id"], T0 + 9_500, True) for r in records])
    # All labelled: compaction keeps nothing of them.
    compacted: dict[bytes, bytes | None] = dict(run.changelog)
    assert not [k for k, v in compacted.items() if k[:2] in (b"pb", b"px") and v is not None]
    assert len(run.task.pending) == 0


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("defaults: {windw: 5m}", 1, "unknown key 'windw'"),
        ("defaults:\n  disparate_impact: 1.2\n", 2, "between 0 and 1"),
        ("defaults:\n  protected: gender\n", 2, "list of names"),
        ("models:\n  credit:\n    min_group_size: 0\n", 3, "whole number >= 1"),
        ("models:\n  credit:\n    window: 5 min\n", 3, "not a duration"),
        ("models:\n  credit: [gender]\n", 2, "must be a mapping"),
    ],
)
def test_configuration_mistakes_name_the_file_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ConfigFileError) as error:
        FairnessConfig(ServiceSettings("fairness")).with_text(text, "fairness.yaml")
    assert str(error.value).startswith(f"fairness.yaml:{line}: ")
    assert reason in str(error.value)
