"""Flagger-style hooks against a real HTTP receiver: signed, in their phases, a refusal
rolls back, confirm-promotion holds the promotion until it says yes."""

from __future__ import annotations

import json

import pytest

from services.rollout.hooks import verify
from watchkeeper.devstack import WebhookReceiver

from .rollout_support import CANARY, Traffic, api, start_rollout, wait_state

pytestmark = pytest.mark.kafka
SECRET = "hook-secret-0123456789"


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


def hooks(url: str, *phases: str) -> list[dict]:
    return [{"name": p, "type": p, "url": f"{url}/{p}", "timeout_s": 5} for p in phases]


def signed(request) -> bool:
    body = json.dumps(request.body, separators=(",", ":"), sort_keys=True).encode()
    headers = {k.lower(): v for k, v in request.headers.items()}
    stamp = int(headers["x-watchkeeper-timestamp"])
    return verify(SECRET, stamp, body, headers["x-watchkeeper-signature"])


def test_hooks_in_their_phases_signed(start_service, kafka_settings, prefix, receiver):
    rollout = start_rollout(start_service, prefix, WK_ROLLOUT_HOOK_SECRET=SECRET)
    receiver.script("/confirm-promotion", [403, 403])  # not yet, not yet, then yes
    phases = ("pre-rollout", "rollout", "confirm-promotion", "post-rollout", "rollback")
    spec = {**CANARY, "steps": [20, 50, 100], "hooks": hooks(receiver.url, *phases)}
    api(rollout).write("POST", "/api/v1/rollouts", spec)
    with Traffic(kafka_settings, prefix, "fraud", {"1": 0.01, "2": 0.01}):
        done = wait_state(rollout, "fraud-1")
    assert done["state"] == "promoted", done["timeline"]
    receiver.wait_for(1, "/post-rollout")
    seen = [(r.path.strip("/"), r.status) for r in receiver.requests()]
    assert seen == [
        ("pre-rollout", 200),
        ("rollout", 200),  # step 0
        ("rollout", 200),  # step 1
        ("confirm-promotion", 403),
        ("confirm-promotion", 403),
        ("confirm-promotion", 200),
        ("post-rollout", 200),
    ]
    assert all(signed(r) for r in receiver.requests())
    lower = [{k.lower(): v for k, v in r.headers.items()} for r in receiver.requests()]
    assert [h["x-watchkeeper-delivery"] for h in lower][:3] == [
        "fraud-1:pre-rollout:0:pre-rollout",
        "fraud-1:rollout:0:rollout",
        "fraud-1:rollout:1:rollout",
    ]
    assert [r.body["step"] for r in receiver.requests("/rollout")] == [0, 1]
    assert receiver.requests("/rollback") == []  # told only after a rollback
    # The hooks' own records ("hooked") interleave as they are delivered: the states' order
    events = [e["event"] for e in done["timeline"] if e["event"] != "hooked"]
    assert events == ["created", "started", "advanced", "passed", "confirmed", "promoted"]


def test_a_refusing_pre_rollout_hook_rolls_back(start_service, prefix, receiver):
    rollout = start_rollout(start_service, prefix)
    receiver.script("/pre-rollout", [], then=500)
    spec = {**CANARY, "hooks": hooks(receiver.url, "pre-rollout", "rollback")}
    api(rollout).write("POST", "/api/v1/rollouts", spec)
    done = wait_state(rollout, "fraud-1")
    assert done["state"] == "rolled_back"
    assert done["rollback"]["reason"].startswith("hook pre-rollout answered 500")
    assert [r.status for r in receiver.requests("/pre-rollout")] == [500, 500, 500]
    told = receiver.wait_for(1, "/rollback")
    assert [r.body["phase"] for r in told] == ["rollback"]
    assert told[0].body["reason"] == done["rollback"]["reason"]
