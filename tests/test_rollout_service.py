"""The rollout service against a real broker and a real registry: canaries decided on the
streams (rolled back with an alert, promoted with the alias moved), refusals, blue-green."""

from __future__ import annotations

import time

import pytest

from watchkeeper.codec import Codec
from watchkeeper.control.client import ApiError

from .helpers import wait_for
from .rollout_support import CANARY, Traffic, api, registry_with, splits, start_rollout, wait_state
from .test_router_support import read_to_end

pytestmark = pytest.mark.kafka


def test_bad_canary_is_rolled_back_with_an_alert(start_service, kafka_settings, prefix, tmp_path):
    registry = registry_with(start_service, prefix, tmp_path, "fraud", "1", "2")
    rollout = start_rollout(start_service, prefix, registry)
    created = api(rollout).write("POST", "/api/v1/rollouts", CANARY)
    assert created["id"] == "fraud-1" and created["state"] == "progressing"
    assert splits(kafka_settings, f"{prefix}routing")["fraud"].variants[1].weight == 50.0
    with Traffic(kafka_settings, prefix, "fraud", {"1": 0.01, "2": 0.2}) as traffic:
        done = wait_state(rollout, "fraud-1")
        seq = splits(kafka_settings, f"{prefix}routing")["fraud"].seq
        wait_for(lambda: all(s[-1][2] >= seq for s in traffic.sent), 30, "every SDK switched")
    assert done["state"] == "rolled_back"
    # Every SDK stopped sending the canary traffic once the rollback's split reached it.
    assert traffic.sent_after(seq, "2") == [0, 0, 0]
    verdict_ms = done["timeline"][-1]["at_ms"]
    delays = [t - verdict_ms for t in traffic.switched_at(seq)]
    print(f"SDKs on the rollback's split {delays} ms after the verdict")
    assert done["rollback"]["check"] == "error_rate" and done["rollback"]["step"] == 0
    assert "worse than the baseline" in done["rollback"]["reason"]
    split = splits(kafka_settings, f"{prefix}routing")["fraud"]
    assert [(v.name, v.version, v.weight) for v in split.variants] == [("default", "1", 100.0)]
    codec = Codec()
    alerts = [codec.decode(v).record for _, v in read_to_end(kafka_settings, f"{prefix}alerts")]
    assert [(a["status"], a["labels"]["alertname"], a["labels"]["version"]) for a in alerts] == [
        ("FIRING", "RolloutRolledBack", "2")
    ]
    assert alerts[0]["annotations"]["reason"] == done["rollback"]["reason"]
    champion = api(registry, "reader").get("/api/v1/models/fraud/aliases/champion")
    assert champion["version"]["version"] == "1"


def test_good_canary_is_promoted_through_every_step(
    start_service, kafka_settings, prefix, tmp_path
):
    registry = registry_with(start_service, prefix, tmp_path, "fraud", "1", "2")
    rollout = start_rollout(start_service, prefix, registry)
    spec = {**CANARY, "steps": [10, 50, 100]}
    api(rollout).write("POST", "/api/v1/rollouts", spec)
    with Traffic(kafka_settings, prefix, "fraud", {"1": 0.01, "2": 0.01}) as traffic:
        done = wait_state(rollout, "fraud-1")
    assert done["state"] == "promoted", done["timeline"]
    weights = {v for sent in traffic.sent for _, v, _ in sent}
    assert weights == {"1", "2"}  # the SDKs served both while it stepped
    events = [e["event"] for e in done["timeline"]]
    assert events == ["created", "advanced", "passed", "promoted"]  # 10 %, 50 %, then all
    champion = api(registry, "reader").get("/api/v1/models/fraud/aliases/champion")
    assert champion["version"]["version"] == "2"
    assert champion["version"]["validations"][-1]["validator"] == "rollout:fraud-1"
    split = splits(kafka_settings, f"{prefix}routing")["fraud"]
    assert [(v.name, v.version) for v in split.variants] == [("default", "2")]


def test_refusals(start_service, prefix, tmp_path):
    registry = registry_with(start_service, prefix, tmp_path, "fraud", "1", "2")
    rollout = start_rollout(start_service, prefix, registry)
    c = api(rollout)
    bad = [
        ({**CANARY, "steps": [50, 150]}, 400, "at most 100"),
        ({**CANARY, "candidate": "9"}, 400, "no fraud version '9'"),
        ({**CANARY, "checks": [{"metric": "clicks", "margin": 1}]}, 400, "a metric nobody emits"),
        ({**CANARY, "steps": [5, "x"]}, 400, "steps"),
        ({**CANARY, "wat": 1}, 400, "wat"),
    ]
    for body, status, words in bad:
        with pytest.raises(ApiError) as refused:
            c.write("POST", "/api/v1/rollouts", body)
        assert (refused.value.status, words in refused.value.reason) == (status, True), body
    c.write("POST", "/api/v1/rollouts", CANARY)
    with pytest.raises(ApiError) as second:
        c.write("POST", "/api/v1/rollouts", {**CANARY, "strategy": "bluegreen"})
    assert second.value.status == 409 and "fraud-1 is progressing" in second.value.reason
    with pytest.raises(ApiError) as reader:
        api(rollout, "reader").write("POST", "/api/v1/rollouts/fraud-1/abort", {})
    assert reader.value.status == 403
    aborted = c.write("POST", "/api/v1/rollouts/fraud-1/abort", {"reason": "wrong build"})
    assert aborted["state"] == "aborted"
    with pytest.raises(ApiError) as again:
        c.write("POST", "/api/v1/rollouts/fraud-1/pause", {})
    assert again.value.status == 409


def test_blue_green_switch_and_rollback(start_service, kafka_settings, prefix, tmp_path):
    registry = registry_with(start_service, prefix, tmp_path, "fraud", "1", "2")
    rollout = start_rollout(start_service, prefix, registry)
    c = api(rollout)
    spec = {"model": "fraud", "strategy": "bluegreen", "baseline": "1", "candidate": "2",
            "keep_ready_s": 3600}  # fmt: skip
    rid = c.write("POST", "/api/v1/rollouts", spec)["id"]

    def weights():
        split = splits(kafka_settings, f"{prefix}routing")["fraud"]
        return [(v.name, v.weight) for v in split.variants]

    assert weights() == [("blue", 100.0), ("green", 0.0)]
    assert c.write("POST", f"/api/v1/rollouts/{rid}/switch", {})["version"] == "2"
    assert weights() == [("blue", 0.0), ("green", 100.0)]
    reader = api(registry, "reader")
    wait_for_alias(reader, "2")
    assert c.write("POST", f"/api/v1/rollouts/{rid}/rollback", {"reason": "p99"})["version"] == "1"
    assert weights() == [("blue", 100.0), ("green", 0.0)]
    wait_for_alias(reader, "1")
    gauge = "wk_rollout_weight_percent"
    assert rollout.metric(gauge, model="fraud", variant="blue", version="1") == 100.0
    assert rollout.metric(gauge, model="fraud", variant="green", version="2") == 0.0
    route = c.get("/api/v1/routing/fraud/httproute", namespace="ml")
    assert [(b["name"], b["weight"]) for b in route["spec"]["rules"][0]["backendRefs"]] == [
        ("fraud-1", 100),
        ("fraud-2", 0),
    ]
    assert c.get("/routing/fraud")["variants"][0]["version"] == "1"


def wait_for_alias(reader, version):
    wait_for(lambda: reader.get("/api/v1/models/fraud/aliases/champion")["version"]["version"]
             == version, 30, f"champion -> {version}")  # fmt: skip


def test_the_cli_starts_reads_exports_and_aborts(start_service, prefix, tmp_path):
    import json

    import yaml

    from .gate_support import run_cli
    from .registry_support import TOKENS

    rollout = start_rollout(start_service, prefix)
    env = {"WK_ROLLOUT_URL": rollout.url, "WK_ROLLOUT_TOKEN": TOKENS["writer"]}
    spec = tmp_path / "canary.yaml"
    spec.write_text(
        'model: fraud\nstrategy: canary\nbaseline: "1"\ncandidate: "2"\nsteps: [5, 100]\n'
    )
    started = run_cli("rollout", "start", str(spec), env=env)
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["id"] == "fraud-1"
    route = run_cli("rollout", "routing", "fraud", "--httproute", "--yaml", env=env)
    doc = yaml.safe_load(route.stdout)
    assert doc["kind"] == "HTTPRoute"
    assert [b["weight"] for b in doc["spec"]["rules"][0]["backendRefs"]] == [95, 5]
    again = run_cli("rollout", "start", str(spec), env=env)
    assert again.returncode == 1 and "409" in again.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: fraud\nsteps: [5\n")
    bad = run_cli("rollout", "start", str(broken), env=env)
    assert bad.returncode == 2 and "broken.yaml:" in bad.stderr
    aborted = run_cli("rollout", "abort", "fraud-1", "--reason", "by hand", env=env)
    assert json.loads(aborted.stdout)["state"] == "aborted"
    listed = json.loads(run_cli("rollout", "list", "--model", "fraud", env=env).stdout)
    assert [(r["id"], r["state"]) for r in listed["rollouts"]] == [("fraud-1", "aborted")]


def test_a_one_request_per_second_canary_reaches_a_decision(start_service, kafka_settings, prefix):
    """Too little traffic for evidence either way: the step's deadline decides (here
    rollback, the default), with the samples it had in the reason; never a halt."""
    from watchkeeper.sdk import Emitter

    rollout = start_rollout(start_service, prefix)
    spec = {**CANARY, "analysis": {"min_samples": 300, "deadline_s": 8}}
    api(rollout).write("POST", "/api/v1/rollouts", spec)
    emitter = Emitter(kafka_settings, prefix=prefix)
    emitter.wait_for_routing(30)
    reader = api(rollout, "reader")
    sent = 0
    try:
        while reader.get("/api/v1/rollouts/fraud-1")["state"] == "progressing" and sent < 60:
            chosen = emitter.assign("fraud", f"user-{sent}", default_version="1")
            emitter.prediction(assignment=chosen, latency_ms=10.0)
            sent += 1
            emitter.flush(1.0)
            time.sleep(1.0)  # the traffic's rate (one request a second), not a synchronisation
    finally:
        emitter.close(5)
    done = wait_state(rollout, "fraud-1")
    assert done["state"] == "rolled_back"
    reason = done["rollback"]["reason"]
    assert reason.startswith("deadline 8 s reached without evidence either way"), reason
    assert "on_deadline: rollback" in reason
    assert sent < 60


def test_hostile_bodies_get_a_reason_and_change_nothing(start_service, prefix):
    import httpx

    from .registry_support import TOKENS

    rollout = start_rollout(start_service, prefix, WK_ROLLOUT_MAX_BODY_BYTES="4096")
    headers = {"Authorization": f"Bearer {TOKENS['writer']}"}
    url = rollout.url + "/api/v1/rollouts"

    def post(content: bytes, key: str, ctype: str = "application/json"):
        h = {**headers, "Idempotency-Key": key, "Content-Type": ctype}
        return httpx.post(url, content=content, headers=h, timeout=10)

    cases = [
        (b"{not json", 400),
        (b"[1, 2, 3]", 400),
        (b'{"model": "fraud", "strategy": "canary", "steps": ' + b"[1]" * 1 + b"}", 400),
        (b'{"model": "../etc", "strategy": "canary", "baseline": "1", "candidate": "2"}', 400),
        (b'{"model": "fraud", "strategy": "canary", "baseline": "1", "candidate": "2", '
         b'"steps": [' + b",".join(b"1" for _ in range(60)) + b"]}", 400),
        (b'{"model": "fraud", "strategy": "canary", "baseline": "1", "candidate": "2", '
         b'"analysis": {"alpha": NaN}}', 400),
        (b'{"model": "x"}' + b" " * 5000, 413),
    ]  # fmt: skip
    for i, (body, status) in enumerate(cases):
        answer = post(body, f"k{i}")
        assert answer.status_code == status, (body[:80], answer.text)
        assert answer.json()["error"], body[:80]
    assert post(b"{}", "no-type", ctype="text/plain").status_code in (400, 415)
    plain = {**headers, "Content-Type": "application/json"}
    missing = httpx.post(url, json=CANARY, headers=plain, timeout=10)
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json()["error"]
    assert httpx.get(rollout.url + "/api/v1/rollouts/nope", headers=headers).status_code == 404
    assert httpx.get(url, headers=headers).json() == {"rollouts": []}
