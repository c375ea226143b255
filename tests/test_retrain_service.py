"""The retraining loop on a real broker with the real registry and rollout services and a
real pipeline (a local command calling back): ten identical drift requests make one run;
the candidate is registered, waits for a person, is approved, rolled out as a canary
and promoted; a failing pipeline fails its run with an alert; callbacks are checked."""

from __future__ import annotations

import sys
import uuid

import httpx
import pytest
from confluent_kafka import Producer

from watchkeeper.codec import Codec
from watchkeeper.control.client import ApiError
from watchkeeper.ports import free_port

from .helpers import wait_for
from .registry_support import TOKEN_TABLE, TOKENS, client
from .rollout_support import Traffic, api, registry_with, start_rollout
from .test_router_support import read_to_end

pytestmark = pytest.mark.kafka
SECRET = "callback-secret-0123456789"
PIPELINE = """
import os, sys
from watchkeeper.retrain_callback import Callback
callback = Callback.from_env()
callback.progress("training on the last 1,000 labelled events")
if os.environ.get("FAIL"):
    print("out of memory", file=sys.stderr)
    sys.exit(3)
callback.candidate(version="2", artifact_uri="file:///models/fraud/2.pkl", metrics={"auc": 0.95},
                   datasets=[])
"""
POLICY = """
defaults: {{debounce_s: 1, cooldown_s: 1}}
models:
  fraud:
    launcher: {{kind: local, command: [{python}, {script}], timeout_s: 60, env: {env}}}
    validation: {{skip: true}}
    approval: {{mode: manual, expiry_s: 600}}
    rollout:
      strategy: canary
      steps: [50, 100]
      checks: [{{metric: error_rate, margin: 0.02}}]
      analysis: {{min_samples: 300, deadline_s: 120}}
"""


def start_retrain(start_service, prefix, tmp_path, registry, rollout, fail=False):
    script = tmp_path / "pipeline.py"
    script.write_text(PIPELINE)
    policy = tmp_path / "retrain.yaml"
    env = "{FAIL: '1'}" if fail else "{}"
    policy.write_text(POLICY.format(python=sys.executable, script=script, env=env))
    port = free_port()
    return start_service(
        "services.retrain", prefix, WK_HTTP_PORT=str(port), WK_RETRAIN_POLICY=str(policy),
        WK_RETRAIN_API_TOKENS=TOKEN_TABLE, WK_RETRAIN_CALLBACK_SECRET=SECRET,
        WK_RETRAIN_PUBLIC_URL=f"http://127.0.0.1:{port}", WK_RETRAIN_TICK_S="0.2",
        WK_RETRAIN_STATE_DIR=str(tmp_path / "runs"),
        WK_RETRAIN_REGISTRY_URL=registry.url, WK_RETRAIN_REGISTRY_TOKEN=TOKENS["writer"],
        WK_RETRAIN_ROLLOUT_URL=rollout.url, WK_RETRAIN_ROLLOUT_TOKEN=TOKENS["writer"],
    )  # fmt: skip


def request_drift(kafka_settings, prefix, n: int, reason: str = "DRIFT") -> None:
    codec, producer = Codec(), Producer(kafka_settings.confluent())
    for _ in range(n):  # the same incident, reported n times
        record = {"request_id": uuid.uuid4().hex, "event_time_ms": 1_000, "model": "fraud",
                  "version": "1", "reason": reason, "evidence": {"feature": "amount"},
                  "metrics": {"psi": 0.31}, "dedup_key": "fraud:1:amount:w42",
                  "requested_by": "drift"}  # fmt: skip
        producer.produce(f"{prefix}retrain-requests", codec.encode("RetrainRequest", record),
                         b"fraud")  # fmt: skip
    assert producer.flush(30) == 0


def run_in(service, rid, *states, timeout=120.0):
    reader = api(service, "reader")

    def reached():
        try:
            run = reader.get(f"/api/v1/runs/{rid}")
        except ApiError as exc:
            if exc.status == 404:
                return None  # not started yet (the debounce)
            raise
        return run["state"] in states and run

    return wait_for(reached, timeout, f"run {rid} in {states}")


def test_drift_to_a_promoted_candidate_with_a_person_approving(
    start_service, kafka_settings, prefix, tmp_path
):
    registry = registry_with(start_service, prefix, tmp_path, "fraud", "1")
    rollout = start_rollout(start_service, prefix, registry)
    retrain = start_retrain(start_service, prefix, tmp_path, registry, rollout)
    request_drift(kafka_settings, prefix, 10)
    waiting = run_in(retrain, "fraud-1", "awaiting_approval")
    assert [r["id"] for r in api(retrain, "reader").get("/api/v1/runs")["runs"]] == ["fraud-1"]
    assert [t["dedup_key"] for t in waiting["triggers"]] == ["fraud:1:amount:w42"]
    assert waiting["candidate"]["metrics"] == {"auc": 0.95}
    registered = client(registry, "reader").get_version("fraud", "2")
    assert registered["tags"]["retrain_run"] == "fraud-1"
    with pytest.raises(Exception, match="403"):
        api(retrain, "reader").write("POST", "/api/v1/runs/fraud-1/approve", {})
    from .gate_support import run_cli

    cli = {"WK_RETRAIN_URL": retrain.url, "WK_RETRAIN_TOKEN": TOKENS["writer"]}
    approved = run_cli("retrain", "approve", "fraud-1", "--reason", "auc up", env=cli)
    assert approved.returncode == 0, approved.stderr
    with Traffic(kafka_settings, prefix, "fraud", {"1": 0.01, "2": 0.01}):
        done = run_in(retrain, "fraud-1", "promoted", "rolled_back", "failed")
    assert done["state"] == "promoted", done["timeline"]
    assert done["approval"]["by"] == "writer"
    assert [e["event"] for e in done["timeline"]] == [
        "created", "launched", "progress", "candidate", "registered", "validated", "approved",
        "rollout_started", "promoted",
    ]  # fmt: skip
    champion = client(registry, "reader").get_alias("fraud", "champion")
    assert champion["version"]["version"] == "2"
    shown = run_cli("retrain", "show", "fraud-1", env=cli).stdout
    assert shown.splitlines()[0] == "fraud-1: promoted" and "approved           writer" in shown


def test_a_failing_pipeline_fails_its_run_with_an_alert(
    start_service, kafka_settings, prefix, tmp_path
):
    registry = registry_with(start_service, prefix, tmp_path, "fraud", "1")
    rollout = start_rollout(start_service, prefix, registry)
    retrain = start_retrain(start_service, prefix, tmp_path, registry, rollout, fail=True)
    request_drift(kafka_settings, prefix, 1, reason="PERFORMANCE")  # accuracy fell, say
    done = run_in(retrain, "fraud-1", "failed")
    assert [t["kind"] for t in done["triggers"]] == ["performance"]
    assert "out of memory" in done["failure"] and "3" in done["failure"], done["failure"]
    codec = Codec()
    alerts = [codec.decode(v).record for _, v in read_to_end(kafka_settings, f"{prefix}alerts")]
    fired = [a for a in alerts if a["labels"]["alertname"] == "RetrainFailed"]
    assert [a["status"] for a in fired][-1] == "FIRING"
    url = f"{retrain.url}/api/v1/runs/fraud-1/callback"
    body = {"kind": "progress", "message": "late"}
    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    unknown = httpx.post(f"{retrain.url}/api/v1/runs/fraud-9/callback", json=body,
                         headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert unknown.status_code == 404


SLOW_PIPELINE = """
import os, pathlib, time
from watchkeeper.retrain_callback import Callback
here = pathlib.Path(os.environ["WORK"])
with open(here / "launches", "a") as f:
    f.write(os.environ["WK_RETRAIN_RUN_ID"] + "\\n")
callback = Callback.from_env()
callback.progress("started")
while not (here / "go").exists():  # the test says when the training is done
    time.sleep(0.05)
callback.candidate(version="2", artifact_uri="file:///m.pkl", metrics={"auc": 0.95}, datasets=[])
"""


def test_kill_9_mid_run_resumes_it_without_a_second_launch(
    kafka_bootstrap, kafka_settings, prefix, tmp_path
):
    from watchkeeper.devstack import ServiceProcess

    script = tmp_path / "pipeline.py"
    script.write_text(SLOW_PIPELINE)
    policy = tmp_path / "retrain.yaml"
    env_text = f"{{WORK: '{tmp_path}'}}"
    policy.write_text(POLICY.format(python=sys.executable, script=script, env=env_text))
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "WK_TOPIC_PREFIX": prefix,
        "WK_HTTP_PORT": str(port), "WK_RETRAIN_POLICY": str(policy),
        "WK_RETRAIN_API_TOKENS": TOKEN_TABLE, "WK_RETRAIN_CALLBACK_SECRET": SECRET,
        "WK_RETRAIN_PUBLIC_URL": f"http://127.0.0.1:{port}", "WK_RETRAIN_TICK_S": "0.2",
        "WK_RETRAIN_STATE_DIR": str(tmp_path / "runs"),
    }  # fmt: skip
    retrain = ServiceProcess("services.retrain", env, tmp_path / "retrain.log", restart=True)
    try:
        retrain.wait_healthy()
        request_drift(kafka_settings, prefix, 1)
        running = run_in(retrain, "fraud-1", "running")
        wait_for(lambda: api(retrain, "reader").get("/api/v1/runs/fraud-1")["progress"], 60,
                 "the pipeline's first report")  # fmt: skip
        retrain.kill()
        retrain.wait_healthy(120)
        assert api(retrain, "reader").get("/api/v1/runs/fraud-1")["state"] == "running"
        (tmp_path / "go").touch()
        done = run_in(retrain, "fraud-1", "awaiting_approval", "failed")
        assert done["state"] == "awaiting_approval", done.get("failure")
        assert (tmp_path / "launches").read_text().splitlines() == ["fraud-1"]
        assert len(retrain.restarts) == 1 and running["launched"]["external_id"] == "fraud-1"
    finally:
        retrain.stop()
