"""The HTTP API of a real router process: tokens and scopes (missing, wrong and
under-scoped ones refused), body size cap, 4xx with reasons, and the Alertmanager ingest
endpoint publishing onto the alerts topic (bad alerts dead-lettered, never dropped)."""

from __future__ import annotations

import pytest

from .helpers import consume
from .test_router_support import (
    TOKENS,
    api_call,
    receiver,
    routing_file,
    start_router,
)

pytestmark = pytest.mark.kafka
__all__ = ["receiver"]

SIMPLE = """
route:
  receiver: oncall
  group_by: [alertname, job]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: oncall
    webhook_configs: [{url: "${RX}/oncall"}]
"""


def test_tokens_and_scopes_are_enforced_and_bad_requests_get_reasons(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    router = start_router(
        start_service,
        prefix,
        routing_file(tmp_path, SIMPLE),
        receiver,
        WK_ROUTER_API_MAX_BODY_BYTES="2048",
    )
    api = router.api

    def call(method: str, path: str, who: str | None = None, **kwargs):
        return api_call(api, method, path, who, **kwargs)

    missing = call("GET", "/api/v1/alerts")
    assert missing.status_code == 401 and missing.json() == {"error": "a bearer token is required"}
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = call("GET", "/api/v1/alerts", headers={"Authorization": "Bearer not-a-token-at-all"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "the token is not valid"
    basic = call("GET", "/api/v1/alerts", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401

    silence = {"matchers": ['model="fraud"'], "duration": "1h", "comment": "maintenance"}
    refused = [
        ("reader", "POST", "/api/v1/silences", {"json": silence}, "'admin'"),
        ("oncall", "POST", "/api/v1/silences", {"json": silence}, "'admin'"),
        ("reader", "POST", "/api/v1/ack", {"json": {"fingerprint": "x"}}, "'ack'"),
        ("alertmanager", "GET", "/api/v1/alerts", {}, "'read'"),
        ("reader", "POST", "/api/v1/alertmanager", {"json": {"alerts": []}}, "'ingest'"),
    ]
    for who, method, path, kwargs, scope in refused:
        answer = call(method, path, who, **kwargs)
        assert answer.status_code == 403, (who, path)
        assert scope in answer.json()["error"]

    assert call("GET", "/api/v1/health", "reader").json()["status"] == "ok"
    assert call("GET", "/api/v1/alerts", "oncall").json() == {"alerts": []}  # ack implies read
    created = call("POST", "/api/v1/silences", "admin", json=silence)
    assert created.status_code == 201 and created.json()["created_by"] == "admin"

    bad = [
        (
            "POST",
            "/api/v1/silences",
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "not valid JSON",
        ),
        (
            "POST",
            "/api/v1/silences",
            {"content": b"matchers=x", "headers": {"Content-Type": "text/plain"}},
            415,
            "application/json",
        ),
        (
            "POST",
            "/api/v1/silences",
            {"json": {**silence, "matchers": ["model=~("]}},
            400,
            "bad regular expression",
        ),
        (
            "POST",
            "/api/v1/silences",
            {"json": {**silence, "matchers": ['model=~".*"']}},
            400,
            "empty string",
        ),
        ("POST", "/api/v1/silences", {"json": {**silence, "comment": " "}}, 400, "comment"),
        (
            "POST",
            "/api/v1/silences",
            {"json": {k: v for k, v in silence.items() if k != "duration"}},
            400,
            "ends_at",
        ),
        (
            "POST",
            "/api/v1/silences",
            {"json": {**silence, "comment": "x" * 4000}},
            413,
            "2048 bytes",
        ),
        ("DELETE", "/api/v1/silences/nope", {}, 404, "no such silence"),
        ("POST", "/api/v1/ack", {"json": {"fingerprint": "nope"}}, 404, "no open escalation"),
        (
            "POST",
            "/api/v1/ack",
            {"json": {"fingerprint": "a", "incident": "b"}},
            400,
            "exactly one",
        ),
        ("GET", "/api/v1/incidents/nope", {}, 404, "no such incident"),
        ("GET", "/api/v1/nothing-here", {}, 404, "no such endpoint"),
        ("PUT", "/api/v1/silences", {}, 405, "not allowed"),
        ("POST", "/api/v1/alertmanager", {"json": {"alerts": "many"}}, 400, "must be a list"),
    ]
    for method, path, kwargs, status, reason in bad:
        answer = call(method, path, "admin", **kwargs)
        assert answer.status_code == status, (path, answer.text)
        assert reason in answer.json()["error"], answer.text
    links = call("GET", "/ack/some-escalation", params={"t": "x"})
    assert links.status_code == 404  # acknowledge links are off without their secret

    assert router.stop() == 0
    logs = router.logs()
    for token in TOKENS.values():
        assert token not in logs


def test_alertmanager_webhooks_are_ingested_onto_the_alerts_topic(
    kafka_settings, prefix, start_service, receiver, tmp_path
) -> None:
    router = start_router(start_service, prefix, routing_file(tmp_path, SIMPLE), receiver)
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "watchkeeper",
        "groupKey": "{}:{}",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "TargetDown", "job": "api", "severity": "page"},
                "annotations": {"summary": "api is down"},
                "startsAt": "2026-01-01T00:00:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": "a1b2c3d4e5f60718",
            },
            {"status": "firing", "labels": {"alertname": "Broken", "job": 7}},
            {
                "status": "firing",
                "labels": {"alertname": "TargetDown", "job": "db"},
                "startsAt": "2026-01-01T00:00:05Z",
            },
        ],
    }
    answer = api_call(router.api, "POST", "/api/v1/alertmanager", "alertmanager", json=payload)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 2
    assert body["dead_lettered"] == [
        {"index": 1, "reason": "labels must be a non-empty map of strings"}
    ]

    delivered = receiver.wait_for(2, "/oncall", timeout=15)
    jobs = sorted(r.body["alerts"][0]["labels"]["job"] for r in delivered)
    assert jobs == ["api", "db"]
    api_alert = next(r for r in delivered if r.body["alerts"][0]["labels"]["job"] == "api")
    sent = api_alert.body["alerts"][0]
    assert (sent["fingerprint"], sent["startsAt"]) == (
        "a1b2c3d4e5f60718",
        "2026-01-01T00:00:00.123Z",
    )
    assert sent["generatorURL"] == "http://prometheus:9090/graph"

    (letter,) = consume(kafka_settings, prefix + "dlq", 1, timeout=15)
    headers = dict(letter.headers())
    assert headers["dlq.topic"] == b"http:/api/v1/alertmanager"
    assert b"labels must be" in headers["dlq.error.message"]

    # Resolving through Alertmanager resolves here too.
    payload["alerts"][0]["status"] = "resolved"
    payload["alerts"][0]["endsAt"] = "2026-01-01T00:10:00Z"
    resolved = api_call(
        router.api,
        "POST",
        "/api/v1/alertmanager",
        "alertmanager",
        json={"alerts": [payload["alerts"][0]]},
    )
    assert resolved.json() == {"accepted": 1, "dead_lettered": []}
    received = receiver.wait_for(3, "/oncall", timeout=15)
    assert received[2].body["status"] == "resolved"
    assert received[2].body["alerts"][0]["endsAt"] == "2026-01-01T00:10:00Z"
    assert router.metric("wk_router_ingested_alerts_total", result="published") == 3
