"""Alertmanager's v2 shapes without Kafka: postable alerts to Alert records (Alertmanager's
fingerprint, resolved by endsAt, every bad field with its reason), v2 matchers, filters,
silence updates."""

from __future__ import annotations

import pytest

from services.router import amv2
from services.router.ingest import parse_time
from services.router.matchers import parse_matchers
from services.router.silences import SilenceBook

# -- the shapes, without Kafka -------------------------------------------------------------


def test_postable_alerts_become_alert_records_with_alertmanagers_fingerprint() -> None:
    now = parse_time("2026-01-01T00:10:00Z", "t")
    body = [
        {
            "labels": {"alertname": "Up", "job": "api", "empty": ""},
            "annotations": {"summary": "down"},
            "startsAt": "2026-01-01T00:00:00.5Z",
            "endsAt": "2026-01-01T00:14:00Z",
            "generatorURL": "http://prom:9090/graph",
        },
        {"labels": {"alertname": "Up", "job": "db"}, "endsAt": "2026-01-01T00:09:00Z"},
    ]
    (firing, resolved), bad = amv2.from_postable(body, now)
    assert bad == []
    assert firing["fingerprint"] == amv2.alertmanager_fingerprint({"alertname": "Up", "job": "api"})
    assert firing["labels"] == {"alertname": "Up", "job": "api"}  # empty labels dropped
    # Firing, valid until its endsAt unless re-sent (services/router/validity.py).
    assert firing["status"] == "FIRING"
    assert firing["ends_at_ms"] == parse_time("2026-01-01T00:14:00Z", "t")
    assert firing["annotations"]["generator_url"] == "http://prom:9090/graph"
    assert resolved["status"] == "RESOLVED"
    assert resolved["ends_at_ms"] == parse_time("2026-01-01T00:09:00Z", "t")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"labels": {"a": "b"}}, "JSON array"),
        ("alerts", "JSON array"),
        ([{"labels": {"a": "b"}}] * (amv2.MAX_ALERTS + 1), "at most"),
    ],
)
def test_a_body_that_is_not_an_array_is_refused_whole(body, reason) -> None:
    with pytest.raises(amv2.V2Error, match=reason):
        amv2.from_postable(body, 0)


@pytest.mark.parametrize(
    ("alert", "reason"),
    [
        ({}, "labels"),
        ({"labels": {}}, "labels"),
        ({"labels": {"a": ""}}, "labels"),
        ({"labels": {"a": 1}}, "labels"),
        ("x", "must be an object"),
        ({"labels": {"a": "b"}, "annotations": {"s": 2}}, "annotations"),
        ({"labels": {"a": "b"}, "startsAt": "yesterday"}, "RFC 3339"),
        ({"labels": {"a": "b"}, "startsAt": "2026-01-01T00:00:00"}, "time zone"),
        ({"labels": {"a": "b"}, "endsAt": 5}, "RFC 3339"),
        (
            {
                "labels": {"a": "b"},
                "startsAt": "2026-01-01T00:01:00Z",
                "endsAt": "2026-01-01T00:00:00Z",
            },
            "before startsAt",
        ),
        ({"labels": {"a": "b"}, "generatorURL": ["x"]}, "generatorURL"),
        ({"labels": {"a b": "c"}}, "label name 'a b' is not valid"),
        ({"labels": {"a": "b"}, "annotations": {"1x": "c"}}, "annotation name '1x'"),
    ],
)
def test_each_bad_alert_gets_its_reason(alert, reason) -> None:
    good, bad = amv2.from_postable([{"labels": {"ok": "1"}}, alert], 0)
    assert len(good) == 1
    ((index, why),) = bad
    assert index == 1 and reason in why and why.startswith("alert 1: ")


def test_v2_matchers_filters_and_silence_updates() -> None:
    ops = [
        amv2.matchers_from_v2([{"name": "a", "value": "x", "isRegex": r, "isEqual": e}])[0].op
        for r in (False, True)
        for e in (True, False)
    ]
    assert ops == ["=", "!=", "=~", "!~"]
    for bad, reason in [
        ([], "non-empty"),
        ([{"name": "a"}], "name and a value"),
        ([{"name": "a", "value": "(", "isRegex": True}], "bad regular expression"),
        ([{"name": "a", "value": "x", "isRegex": "yes"}], "booleans"),
    ]:
        with pytest.raises(amv2.V2Error, match=reason):
            amv2.matchers_from_v2(bad)
    with pytest.raises(amv2.V2Error, match="filter"):
        amv2.parse_filter(["a=~("])
    with pytest.raises(amv2.V2Error, match="true or false"):
        amv2.flag({"active": "maybe"}, "active")

    book = SilenceBook()
    silence = book.create(parse_matchers('alertname="X",team="risk"'), 0, 10_000, "al", "c", 0)
    assert amv2.silence_matches_filter(silence, parse_matchers('alertname="X"'))
    assert not amv2.silence_matches_filter(silence, parse_matchers('alertname="Y"'))
    shown = amv2.gettable_silence(silence, now_ms=5)
    assert shown["status"] == {"state": "active"}
    assert shown["matchers"][0] == {
        "name": "alertname",
        "value": "X",
        "isRegex": False,
        "isEqual": True,
    }
    assert shown["startsAt"] == "1970-01-01T00:00:00.000Z"
    with pytest.raises(KeyError):
        book.update("nope", silence.matchers, 0, 1, "al", "c", 0)
