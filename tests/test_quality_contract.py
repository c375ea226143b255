"""quality's data contracts: the YAML format, its errors (file:line), and the per-event
checks (missing, wrong type, out of range, not allowed, cross-field rules)."""

from __future__ import annotations

import math

import pytest

from services.quality.checks import Checker
from services.quality.contract import (
    FEATURE,
    INTEGER,
    SEGMENT,
    TOP,
    ConfigFileError,
    load,
    load_text,
    parse,
)
from watchkeeper._paths import REPO_ROOT

CONTRACT = """
defaults:
  window: 30s
  thresholds: {completeness: 99.5%, freshness: 0.9}
  fields:
    segments.country: {required: true}
contracts:
  fraud:
    gate: fraud-training
    max_age: 2m
    fields:
      features.amount: {type: number, required: true, min: 0, max: 1000}
      features.items: {type: integer, min: 1}
      features.channel: {type: string, required: true, allowed: [web, app]}
      score: {min: 0, max: 1}
      prediction_label: {allowed: [fraud, legit]}
    rules:
      - features.end >= features.start
      - {name: capped discount, expr: features.discount <= 50}
      - "segments.plan != 'trial'"
"""


def contract(text: str = CONTRACT, model: str = "fraud"):
    return parse(load_text(text, "quality.yaml")).for_model(model)


def event(num=None, cat=None, segments=None, **top) -> dict:
    record = {
        "num_features": num or {},
        "cat_features": cat or {},
        "segments": segments if segments is not None else {"country": "FR"},
        "score": None,
        "prediction_label": None,
    }
    record.update(top)
    return record


def test_the_shipped_contract_file_loads() -> None:
    contracts = load(REPO_ROOT / "deploy" / "quality.yaml")
    fraud = contracts.for_model("fraud")
    assert fraud.gate == "fraud-training"
    assert any(f.path == "features.amount" and f.required for f in fraud.fields)


def test_defaults_merge_into_each_contract_and_cover_models_without_one() -> None:
    fraud = contract()
    assert fraud.window_ms == 30_000 and fraud.max_age_ms == 120_000
    assert fraud.thresholds.completeness == 0.995
    assert fraud.thresholds.freshness == 0.9
    assert fraud.thresholds.accuracy == 0.99  # built-in default
    paths = [f.path for f in fraud.fields]
    assert paths[0] == "segments.country" and "features.amount" in paths
    other = contract(model="recommender")
    assert other.gate == "recommender"
    assert [f.path for f in other.fields] == ["segments.country"]
    assert other.rules == ()


def test_paths_and_types_resolve() -> None:
    fields = {f.path: f for f in contract().fields}
    assert (fields["features.items"].where, fields["features.items"].type) == (FEATURE, INTEGER)
    assert fields["segments.country"].where == SEGMENT
    assert fields["score"].where == TOP
    assert fields["features.channel"].allowed == frozenset({"web", "app"})
    rules = contract().rules
    assert [r.name for r in rules] == [
        "features.end >= features.start",
        "capped discount",
        "segments.plan != 'trial'",
    ]
    assert rules[1].constant == 50.0 and rules[2].constant == "trial"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("contracts:\n  m:\n    windw: 1m\n", 3, "unknown key 'windw'"),
        ("contracts:\n  m:\n    window: soon\n", 3, "not a duration"),
        ("contracts:\n  m:\n    fields:\n      feature.x: {type: number}\n", 4, "unknown field"),
        ("contracts:\n  m:\n    fields:\n      features.x: {type: float}\n", 4, "type must be"),
        ("contracts:\n  m:\n    fields:\n      score: {type: string}\n", 4, "always a number"),
        ("contracts:\n  m:\n    fields:\n      segments.c: {min: 1}\n", 4, "no range"),
        ("contracts:\n  m:\n    fields:\n      features.x: {allowed: []}\n", 4, "non-empty"),
        ("contracts:\n  m:\n    rules: ['features.a ~ features.b']\n", 3, "expected"),
        ("contracts:\n  m:\n    rules: ['3 < features.b']\n", 3, "left side"),
        ("defaults:\n  thresholds:\n    completeness: 120%\n", 3, "between 0 and 1"),
        ("defaults:\n  thresholds:\n    speed: 1\n", 3, "unknown check"),
        ("defaults:\n  for: 0\n", 2, "whole number >= 1"),
        ("contracts:\n  a: {gate: g}\n  b:\n    gate: g\n", 4, "already the gate"),
        ("contracts:\n  a: {gate: b}\n  b: {}\n", 2, "already the gate"),
    ],
)
def test_mistakes_name_the_file_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ConfigFileError) as error:
        parse(load_text(text, "quality.yaml"))
    assert error.value.line == line
    assert str(error.value).startswith(f"quality.yaml:{line}: ")
    assert reason in str(error.value)


def field_counts(record: dict) -> dict[str, tuple[int, int, int]]:
    checker = Checker(contract())
    counts = checker.new_counts()
    checker.check(record, counts)
    return {
        f.path: (counts.present[i], counts.invalid[i], counts.wrong_type[i])
        for i, f in enumerate(checker.contract.fields)
    }


@pytest.mark.parametrize("missing", [None, float("nan"), ""])
def test_missing_means_absent_none_nan_or_empty(missing) -> None:
    where = {"num": {"amount": missing}} if missing != "" else {"cat": {"amount": missing}}
    counts = field_counts(event(**where))
    assert counts["features.amount"] == (0, 0, 0)
    assert field_counts(event())["features.amount"] == (0, 0, 0)  # absent


def test_values_out_of_range_infinite_or_not_allowed_are_invalid() -> None:
    counts = field_counts(
        event(
            num={"amount": 1500.0, "items": math.inf},
            cat={"channel": "fax"},
            score=-0.1,
            prediction_label="maybe",
        )
    )
    assert counts["features.amount"] == (1, 1, 0)
    assert counts["features.items"] == (1, 1, 0)
    assert counts["features.channel"] == (1, 1, 0)
    assert counts["score"] == (1, 1, 0)
    assert counts["prediction_label"] == (1, 1, 0)
    fine = field_counts(event(num={"amount": 0.0, "items": 3.0}, cat={"channel": "web"}, score=1.0))
    assert fine["features.amount"] == fine["features.items"] == (1, 0, 0)
    assert fine["features.channel"] == fine["score"] == (1, 0, 0)


def test_a_value_in_the_wrong_map_or_a_fraction_for_an_integer_is_a_type_violation() -> None:
    checker = Checker(contract())
    counts = checker.new_counts()
    broken = event(num={"items": 2.5, "channel": 1.0}, cat={"amount": "12.0"})
    assert checker.check(broken, counts) is True
    wrong = {f.path: counts.wrong_type[i] for i, f in enumerate(checker.contract.fields)}
    assert wrong["features.amount"] == wrong["features.items"] == wrong["features.channel"] == 1
    assert sum(counts.invalid) == 0  # a wrong type is not also counted as out of range


@pytest.mark.parametrize(
    ("num", "cat", "segments", "broken"),
    [
        ({"start": 1.0, "end": 2.0}, {}, {}, [0, 0, 0]),
        ({"start": 3.0, "end": 2.0}, {}, {}, [1, 0, 0]),
        ({"end": 2.0}, {}, {}, [0, 0, 0]),  # a missing side: completeness's business
        ({"start": 1.0}, {"end": "later"}, {}, [1, 0, 0]),  # a number against a string
        ({"discount": 80.0}, {}, {}, [0, 1, 0]),
        ({}, {}, {"plan": "trial"}, [0, 0, 1]),
        ({}, {}, {"plan": "gold"}, [0, 0, 0]),
    ],
)
def test_cross_field_rules(num, cat, segments, broken) -> None:
    checker = Checker(contract())
    counts = checker.new_counts()
    inconsistent = checker.check(event(num=num, cat=cat, segments=segments), counts)
    assert counts.rules == broken
    assert inconsistent is any(broken)


def test_source_of_an_event() -> None:
    text = "defaults: {source_by: tenant}\ncontracts: {m: {}}"
    checker = Checker(contract(text, "m"))
    assert checker.source_of(event(tenant="acme")) == "acme"
    assert checker.source_of(event(tenant=None)) is None
    assert Checker(contract("contracts: {m: {source_by: null}}", "m")).source_of(event()) is None


def test_outputs_of_failed_predictions_are_not_judged() -> None:
    text = "contracts:\n  m:\n    fields:\n      score: {required: true}\n"
    text += "      features.amount: {required: true}\n"
    checker = Checker(contract(text, "m"))
    counts = checker.new_counts()
    for status in ("OK", "ERROR", "TIMEOUT"):
        counts.events += 1
        checker.check(event(status=status, score=0.9 if status == "OK" else None), counts)
    score, amount = checker.contract.fields
    assert counts.failed == 2
    assert (counts.judged(score), counts.present[0]) == (1, 1)  # no answer on failure: fine
    assert (counts.judged(amount), counts.present[1]) == (3, 0)  # inputs: always judged
    assert counts.values(checker.contract)["completeness"] == 0.0


def test_integers_without_bounds_and_infinite_bounds_compile() -> None:
    text = "contracts:\n  m:\n    fields:\n      features.n: {type: integer}\n"
    text += "      features.x: {type: number, min: -.inf, max: .inf}\n"
    checker = Checker(contract(text, "m"))
    counts = checker.new_counts()
    for n, x in ((2.0, 1e300), (2.5, -1e300), (math.inf, math.inf)):
        checker.check(event(num={"n": n, "x": x}), counts)
    assert counts.present == [3, 3]
    assert counts.wrong_type == [1, 0]  # 2.5 is no integer
    assert counts.invalid == [1, 1]  # infinities are out of any range
    assert "def check(record, counts):" in checker.source_code
