"""Alertmanager's v2 API on a real router process, driven by Debian's ``amtool``: silences
added, listed and expired mute notifications to a real webhook server and survive kill -9;
bad bodies get 400 with reasons (the bad alerts reach the dead-letter topic), unknown
silences 404, tokens and scopes as the rest of the API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

import watchkeeper
from watchkeeper.devstack import debian

from .helpers import consume, wait_for
from .test_router_support import (
    SIMPLE,
    TOKENS,
    api_call,
    needs,
    read_to_end,
    receiver,
    routing_file,
    start_router,
)

__all__ = ["receiver"]
AMTOOL = debian.binary("prometheus-alertmanager", "amtool")
kafka = pytest.mark.kafka


# -- a real router, amtool and Prometheus --------------------------------------------------


def amtool(api: str, tmp_path: Path, *args: str, who: str = "admin") -> str:
    config = tmp_path / f"amtool-{who}.yml"
    config.write_text(f"authorization:\n  type: Bearer\n  credentials: {TOKENS[who]}\n")
    done = subprocess.run(
        [str(AMTOOL), f"--alertmanager.url={api}", f"--http.config.file={config}", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"amtool {' '.join(args)}: {done.stdout}{done.stderr}"
    # amtool reads GET /api/v2/status before each command (its version check) and warns
    # that the versions differ (the router reports watchkeeper's): nothing else.
    version = watchkeeper.__version__
    assert (
        done.stderr
        == f"Warning: amtool version (0.25.0) and alertmanager version ({version}) are different.\n"
    )
    return done.stdout


def names_in(receiver, path: str = "/oncall") -> list[str]:
    return [a["labels"]["alertname"] for r in receiver.delivered(path) for a in r.body["alerts"]]


@kafka
def test_amtool_adds_lists_and_expires_silences_that_mute_notifications(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    needs(AMTOOL)
    router = start_router(start_service, prefix, routing_file(tmp_path, SIMPLE), receiver)
    api = router.api

    silence_id = amtool(
        api,
        tmp_path,
        "silence",
        "add",
        "alertname=Quiet",
        "--comment=deploy",
        "--duration=1h",
        "--author=alice",
    ).strip()
    assert silence_id
    (listed,) = json.loads(amtool(api, tmp_path, "silence", "query", "-o", "json"))
    assert listed["id"] == silence_id and listed["status"]["state"] == "active"
    assert listed["createdBy"] == "alice (token admin)" and listed["comment"] == "deploy"
    assert listed["matchers"] == [
        {"name": "alertname", "value": "Quiet", "isRegex": False, "isEqual": True}
    ]
    own = api_call(api, "GET", "/api/v1/silences", "reader").json()["silences"]
    assert [(s["id"], s["matchers"], s["state"]) for s in own] == [
        (silence_id, ['alertname="Quiet"'], "active")
    ]

    # Alerts as amtool posts them (POST /api/v2/alerts): the silenced one first, then one
    # that is not; once the second is notified and the router lists the first as
    # suppressed, the first has been through its flush: muted, not delivered.
    amtool(api, tmp_path, "alert", "add", "alertname=Quiet", "model=fraud")
    amtool(api, tmp_path, "alert", "add", "alertname=Loud", "model=fraud")
    receiver.wait_for(1, "/oncall", timeout=30)
    shown = wait_for(
        lambda: (
            len(
                alerts := json.loads(
                    amtool(api, tmp_path, "alert", "query", "-a", "-s", "-o", "json")
                )
            )
            == 2
            and alerts
        ),
        timeout=30,
        what="both alerts listed",
    )
    states = {a["labels"]["alertname"]: a["status"] for a in shown}
    assert states["Quiet"]["state"] == "suppressed"
    assert states["Quiet"]["silencedBy"] == [silence_id]
    # (amtool 0.25's model has no mutedBy, which newer Alertmanagers add: it drops it.)
    assert states["Loud"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
    assert names_in(receiver) == ["Loud"]
    # A matcher argument is the filter= parameter.
    only = json.loads(
        amtool(api, tmp_path, "alert", "query", "-a", "-s", "-o", "json", "alertname=~Q.*")
    )
    assert [a["labels"]["alertname"] for a in only] == ["Quiet"]
    # Without -s (silenced) amtool lists only what is not muted.
    unsilenced = json.loads(amtool(api, tmp_path, "alert", "query", "-o", "json"))
    assert [a["labels"]["alertname"] for a in unsilenced] == ["Loud"]

    amtool(api, tmp_path, "silence", "expire", silence_id)
    assert json.loads(amtool(api, tmp_path, "silence", "query", "-o", "json")) == []
    (expired,) = json.loads(amtool(api, tmp_path, "silence", "query", "--expired", "-o", "json"))
    assert expired["id"] == silence_id and expired["status"]["state"] == "expired"
    own = api_call(api, "GET", "/api/v1/silences", "reader").json()["silences"]
    assert own[0]["state"] == "expired"
    # No longer muted: the next flush of its group tells the receiver.
    wait_for(lambda: "Quiet" in names_in(receiver), timeout=30, what="Quiet notified")
    assert sorted(names_in(receiver)) == ["Loud", "Quiet"]

    # The state is the silences topic's: a restarted router knows the expired silence.
    records = read_to_end(kafka_settings, prefix + "silences")
    assert {k.decode() for k, _ in records} == {silence_id}

    # kill -9, then a new router on the same topics: amtool sees the same state (every
    # change was acknowledged by the broker before its answer).
    amtool(api, tmp_path, "silence", "add", "alertname=Later", "--comment=x", "--author=ops")
    router.kill()
    again = start_router(start_service, prefix, routing_file(tmp_path, SIMPLE), receiver)

    def query(*flags: str) -> dict[str, str]:
        found = json.loads(amtool(again.api, tmp_path, "silence", "query", *flags, "-o", "json"))
        return {s["matchers"][0]["value"]: s["status"]["state"] for s in found}

    assert query() == {"Later": "active"} and query("--expired") == {"Quiet": "expired"}
    firing = json.loads(amtool(again.api, tmp_path, "alert", "query", "-a", "-s", "-o", "json"))
    assert sorted(a["labels"]["alertname"] for a in firing) == ["Loud", "Quiet"]
    assert again.stop() == 0


@kafka
def test_bad_requests_get_400_with_reasons_and_unknown_silences_404(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    router = start_router(start_service, prefix, routing_file(tmp_path, SIMPLE), receiver)
    api = router.api

    def call(method: str, path: str, who: str | None = "admin", **kwargs) -> httpx.Response:
        return api_call(api, method, path, who, **kwargs)

    good = {"labels": {"alertname": "Good", "model": "fraud"}}
    mixed = call("POST", "/api/v2/alerts", "alertmanager", json=[good, {"labels": {}}])
    assert mixed.status_code == 400
    assert mixed.json() == "alert 1: labels must be a non-empty map of strings"
    (letter,) = consume(kafka_settings, prefix + "dlq", 1, timeout=30)
    assert dict(letter.headers())["dlq.topic"] == b"http:/api/v2/alerts"
    assert json.loads(letter.value()) == {"labels": {}}
    # ... and the sound alert beside it was taken, as Alertmanager takes it.
    wait_for(lambda: "Good" in names_in(receiver), timeout=30, what="the sound alert")

    def listed(**params: str) -> list[str]:
        found = call("GET", "/api/v2/alerts", "reader", params=params).json()
        return [a["labels"]["alertname"] for a in found]

    wait_for(lambda: listed() == ["Good"], timeout=30, what="the alert listed")
    assert listed(receiver="onc.*") == ["Good"] and listed(receiver="onc") == []
    assert listed(filter='model="fraud"') == ["Good"] and listed(filter="model=eta") == []
    assert listed(active="false") == []

    bad = [
        ("POST", "/api/v2/alerts", {"json": {"labels": {"a": "b"}}}, 400, "JSON array"),
        (
            "POST",
            "/api/v2/alerts",
            {"content": b"[{", "headers": {"Content-Type": "application/json"}},
            400,
            "not valid JSON",
        ),
        (
            "POST",
            "/api/v2/alerts",
            {"content": b"[]", "headers": {"Content-Type": "text/plain"}},
            400,
            "application/json",
        ),
        (
            "POST",
            "/api/v2/alerts",
            {"json": [{"labels": {"a": "b"}, "startsAt": "soon"}]},
            400,
            "RFC 3339",
        ),
        ("GET", "/api/v2/alerts?filter=a%3D~%28", {}, 400, "bad regular expression"),
        ("GET", "/api/v2/alerts?active=maybe", {}, 400, "true or false"),
        ("GET", "/api/v2/alerts?receiver=%28", {}, 400, "receiver: bad regular expression"),
        ("GET", "/api/v2/silence/0123abcd", {}, 404, "silence not found"),
        ("DELETE", "/api/v2/silence/0123abcd", {}, 404, "silence not found"),
    ]
    silence = {
        "matchers": [{"name": "alertname", "value": "X", "isRegex": False}],
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "alice",
        "comment": "why",
    }
    bad += [
        ("POST", "/api/v2/silences", {"json": {**silence, "id": "0123abcd"}}, 404, "not found"),
        ("POST", "/api/v2/silences", {"json": {**silence, "matchers": []}}, 400, "non-empty"),
        ("POST", "/api/v2/silences", {"json": {**silence, "comment": ""}}, 400, "comment"),
        ("POST", "/api/v2/silences", {"json": {**silence, "createdBy": 3}}, 400, "createdBy"),
        ("POST", "/api/v2/silences", {"json": [silence]}, 400, "JSON object"),
        (
            "POST",
            "/api/v2/silences",
            {"json": {**silence, "endsAt": "2026-01-01T00:00:00Z"}},
            400,
            "ends must be after starts",
        ),
        (
            "POST",
            "/api/v2/silences",
            {"json": {**silence, "matchers": [{"name": "a", "value": ".*", "isRegex": True}]}},
            400,
            "empty string",
        ),
    ]
    for method, path, kwargs, status, reason in bad:
        answer = call(method, path, **kwargs)
        assert answer.status_code == status, (path, answer.text)
        assert reason in answer.json(), answer.text

    refused = [
        (None, "GET", "/api/v2/alerts", 401),
        ("reader", "POST", "/api/v2/silences", 403),
        ("reader", "POST", "/api/v2/alerts", 403),
        ("alertmanager", "GET", "/api/v2/silences", 403),
        ("oncall", "DELETE", "/api/v2/silence/x", 403),
    ]
    for who, method, path, status in refused:
        assert call(method, path, who, json=[]).status_code == status, (who, path)

    # Create, update in place (same matchers, new end), then a change of matchers that
    # replaces it (a new id; the old one expired), as Alertmanager does.
    first = call("POST", "/api/v2/silences", json=silence).json()["silenceID"]
    longer = {**silence, "id": first, "endsAt": "2999-06-01T00:00:00Z"}
    assert call("POST", "/api/v2/silences", json=longer).json() == {"silenceID": first}
    got = call("GET", f"/api/v2/silence/{first}", "reader").json()
    assert got["endsAt"] == "2999-06-01T00:00:00.000Z" and got["status"]["state"] == "active"
    other = {**longer, "matchers": [{"name": "alertname", "value": "Y", "isRegex": False}]}
    second = call("POST", "/api/v2/silences", json=other).json()["silenceID"]
    assert second != first
    listed = call("GET", "/api/v2/silences", "reader", params={"filter": 'alertname="Y"'}).json()
    assert [s["id"] for s in listed] == [second]
    assert call("GET", f"/api/v2/silence/{first}", "reader").json()["status"]["state"] == (
        "expired"
    )

    status = call("GET", "/api/v2/status", "reader").json()
    assert status["cluster"]["status"] == "disabled"
    assert status["versionInfo"]["version"] and "routing file" in status["config"]["original"]
    assert call("GET", "/api/v2/receivers", "reader").json() == [{"name": "oncall"}]
    assert router.stop() == 0
