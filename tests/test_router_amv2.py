"""Alertmanager's v2 API on a real router process: Debian's ``amtool`` adds, lists and
expires silences that mute notifications to a real webhook server; a real Prometheus
(Debian's) posts its alerts and the receiver hears each state once despite the re-sends;
bad bodies get 400 with reasons (and the bad alerts reach the dead-letter topic)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import httpx
import pytest

import watchkeeper
from services.router import amv2
from services.router.ingest import parse_time
from services.router.matchers import parse_matchers
from services.router.silences import SilenceBook
from watchkeeper.devstack import debian
from watchkeeper.ports import free_port
from watchkeeper.runtime import compacted

from .helpers import consume, wait_for
from .test_router_support import (
    CODEC,
    SIMPLE,
    TOKENS,
    Clock,
    InProcess,
    api_async,
    api_call,
    read_to_end,
    receiver,
    routing_file,
    settle,
    start_router,
    until,
)

__all__ = ["receiver"]
AMTOOL = debian.binary("prometheus-alertmanager", "amtool")
PROMETHEUS = debian.binary("prometheus", "prometheus")
kafka = pytest.mark.kafka


def needs(binary: Path) -> None:
    if not binary.exists():
        pytest.skip(
            f"{binary} is not unpacked: run `python -m watchkeeper.devstack.debian install`"
        )


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


PROMETHEUS_ROUTING = """
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: ${RX}/oncall
        send_resolved: true
"""


def rule_file(path: Path, expr: str) -> None:
    path.write_text(
        "groups:\n  - name: wk\n    rules:\n      - alert: AlwaysOn\n"
        f"        expr: {expr}\n        labels: {{severity: page}}\n"
        "        annotations: {summary: it fires at once}\n"
    )


def states_of(kafka_settings, prefix: str, key: bytes) -> list[str]:
    return [
        CODEC.decode_as("Alert", r.value)["status"]
        for r in compacted.read(kafka_settings, prefix + "alerts", 30.0)
        if r.key == key
    ]


def read_partition(kafka_settings, prefix: str, key: bytes) -> int:
    (found,) = {
        r.partition for r in compacted.read(kafka_settings, prefix + "alerts", 30.0) if r.key == key
    }
    return found


def same_partition(key: str, other: str, partitions: int = 3) -> bool:
    """librdkafka's default partitioner (consistent_random: CRC-32 of the key); the test
    checks the outcome on the topic, so a different partitioner fails loudly."""
    return zlib.crc32(key.encode()) % partitions == zlib.crc32(other.encode()) % partitions


@kafka
def test_a_real_prometheus_alerts_through_the_router_once_then_resolves(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    needs(PROMETHEUS)
    router = start_router(
        start_service, prefix, routing_file(tmp_path, PROMETHEUS_ROUTING), receiver
    )
    rules = tmp_path / "rules.yml"
    rule_file(rules, "vector(1)")
    target = router.api.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s, scrape_interval: 1s}\n"
        f"rule_files: [{rules}]\n"
        "alerting:\n  alertmanagers:\n    - api_version: v2\n"
        f"      authorization: {{credentials: {TOKENS['alertmanager']}}}\n"
        f"      static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    prometheus = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            # Re-send every 2 s: each send says endsAt = now + 8 s (4 x the delay), so a
            # slow moment of a shared machine does not time the alert out (validity.py).
            "--rules.alert.resend-delay=2s",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        (fired,) = receiver.wait_for(1, "/oncall", timeout=60)
        (alert,) = fired.body["alerts"]
        labels = {"alertname": "AlwaysOn", "severity": "page"}
        assert alert["status"] == "firing" and alert["labels"] == labels
        assert alert["fingerprint"] == amv2.alertmanager_fingerprint(labels)
        assert alert["generatorURL"].startswith("http://")
        # Prometheus re-sends the firing alert: wait until the topic holds three of its
        # states (two re-sends), each of which the router has read and routed.
        key = alert["fingerprint"].encode()
        wait_for(
            lambda: sum(k == key for k, _ in read_to_end(kafka_settings, prefix + "alerts")) >= 3,
            timeout=60,
            what="Prometheus's re-sends",
        )
        rule_file(rules, "vector(1) < 0")
        httpx.post(f"http://127.0.0.1:{port}/-/reload", timeout=10).raise_for_status()
        wait_for(
            lambda: any(r.body["status"] == "resolved" for r in receiver.delivered("/oncall")),
            timeout=60,
            what="the resolved notification",
        )
        # Prometheus re-sends the resolution too (for 15 minutes): wait for two of those
        # states on the topic, then put a barrier behind them, a new alert of the same
        # group on the same partition. Its notification comes after whatever the re-sends
        # caused (one partition is read in order, one group flushes after the other).
        states = states_of(kafka_settings, prefix, key)
        wait_for(
            lambda: states_of(kafka_settings, prefix, key)[-3:] == ["RESOLVED"] * 3,
            timeout=60,
            what="re-sent resolutions",
        )
        partition = read_partition(kafka_settings, prefix, key)
        barrier = next(
            {**labels, "instance": f"barrier-{i}"}
            for i in range(1000)
            if same_partition(
                amv2.alertmanager_fingerprint({**labels, "instance": f"barrier-{i}"}), key.decode()
            )
        )
        posted = api_call(
            router.api, "POST", "/api/v2/alerts", "alertmanager", json=[{"labels": barrier}]
        )
        assert posted.status_code == 200, posted.text
        wait_for(lambda: len(receiver.delivered("/oncall")) >= 3, timeout=60, what="the barrier")
        barrier_key = amv2.alertmanager_fingerprint(barrier).encode()
        assert read_partition(kafka_settings, prefix, barrier_key) == partition
        told = [
            sorted((a["labels"].get("instance", ""), a["status"]) for a in r.body["alerts"])
            for r in receiver.delivered("/oncall")
        ]
        # One firing notification despite the re-sends, one resolution despite its
        # re-sends, then the barrier's. A resolution re-sent while the barrier fires joins
        # the group again and may ride along in one more notification of it, exactly as
        # in Alertmanager (its nflog: a resolved alert the receiver was not told of in
        # this group's last notification): never on its own, never as firing.
        assert told[:3] == [[("", "firing")], [("", "resolved")], [(barrier["instance"], "firing")]]
        assert all(t == [("", "resolved"), (barrier["instance"], "firing")] for t in told[3:]), told
        assert len(states) >= 4  # firing at least three times, then resolved
    finally:
        prometheus.terminate()
        prometheus.wait(30)
        log.close()
        shutil.rmtree(tmp_path / "tsdb", ignore_errors=True)
    assert router.stop() == 0


@kafka
def test_a_firing_alert_not_resent_before_its_ends_at_resolves_then(
    kafka_settings, prefix, receiver
) -> None:
    """Alertmanager's timeout: Prometheus gone, its alert resolves at the endsAt it sent;
    re-sent before, it stays firing (on the router's injected clock)."""
    clock = Clock(time.time())
    routing = SIMPLE.replace("${RX}", receiver.url)
    sent: dict[str, dict] = {}

    def postable(name: str, valid_s: float) -> dict:
        sent[name] = {
            "labels": {"alertname": name, "model": "fraud"},
            "startsAt": amv2.rfc3339(int(clock() * 1000)),
            "endsAt": amv2.rfc3339(int((clock() + valid_s) * 1000)),
        }
        return sent[name]

    async def scenario() -> None:
        async with InProcess(kafka_settings, prefix, routing, {"RX": receiver.url}, clock) as r:
            url = f"http://127.0.0.1:{r.api_port}"
            answer = await api_async(
                url,
                "POST",
                "/api/v2/alerts",
                "alertmanager",
                json=[postable("Gone", 60), postable("Kept", 60)],
            )
            assert answer.status_code == 200, answer.text
            await until(lambda: len(receiver.delivered("/oncall")) >= 2, router=r)
            clock.now += 50
            # "Kept" is re-sent (a later endsAt); "Gone" is not.
            kept = await api_async(
                url, "POST", "/api/v2/alerts", "alertmanager", json=[postable("Kept", 60)]
            )
            assert kept.status_code == 200
            await until(
                lambda: (
                    r.engine.alerts[
                        amv2.alertmanager_fingerprint({"alertname": "Kept", "model": "fraud"})
                    ].event_time_ms
                    == int(clock() * 1000)
                ),
                router=r,
            )
            clock.now += 20  # past Gone's endsAt, before Kept's
            await until(lambda: len(receiver.delivered("/oncall")) >= 3, router=r)
            await settle(r)

    asyncio.run(scenario())
    told = [
        [(a["labels"]["alertname"], a["status"]) for a in req.body["alerts"]]
        for req in receiver.delivered("/oncall")
    ]
    assert sorted(told[:2]) == [[("Gone", "firing")], [("Kept", "firing")]]
    assert told[2:] == [[("Gone", "resolved")]]
    # Resolved at the endsAt Prometheus promised, as Alertmanager shows it.
    resolved = receiver.delivered("/oncall")[2].body["alerts"][0]
    assert resolved["endsAt"] == sent["Gone"]["endsAt"]
