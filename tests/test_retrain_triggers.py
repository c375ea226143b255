"""Triggers and launches through the retrain service on a real broker: a person's
trigger starts a run at once (no debounce), and a webhook launcher triggers a DAG run on
an Airflow-shaped HTTP server with the body of Airflow's dagRuns API."""

from __future__ import annotations

import httpx
import pytest

from watchkeeper.codec import Codec
from watchkeeper.devstack import WebhookReceiver
from watchkeeper.ports import free_port

from .registry_support import TOKEN_TABLE, TOKENS
from .rollout_support import api
from .test_retrain_service import SECRET, run_in
from .test_router_support import read_to_end

pytestmark = pytest.mark.kafka
AIRFLOW_POLICY = """
models:
  fraud:
    debounce_s: 600            # a person's trigger does not wait for it
    launcher: {{kind: webhook, template: airflow, url: "{url}", dag_id: train_fraud}}
    validation: {{skip: true}}
"""


def test_a_persons_trigger_launches_a_dag_run_shaped_as_airflows_api(
    start_service, prefix, tmp_path
):
    airflow = WebhookReceiver().start()
    try:
        policy = tmp_path / "retrain.yaml"
        policy.write_text(AIRFLOW_POLICY.format(url=airflow.url))
        port = free_port()
        retrain = start_service(
            "services.retrain", prefix, WK_HTTP_PORT=str(port), WK_RETRAIN_POLICY=str(policy),
            WK_RETRAIN_API_TOKENS=TOKEN_TABLE, WK_RETRAIN_CALLBACK_SECRET=SECRET,
            WK_RETRAIN_PUBLIC_URL=f"http://127.0.0.1:{port}", WK_RETRAIN_TICK_S="0.2",
            WK_RETRAIN_STATE_DIR=str(tmp_path / "runs"),
        )  # fmt: skip
        answer = api(retrain).write("POST", "/api/v1/triggers", {"model": "fraud", "version": "3",
                                    "reason": "new labels are in"})  # fmt: skip
        assert answer == {"model": "fraud", "merged": False}
        run = run_in(retrain, "fraud-1", "running", "failed", timeout=60)
        assert run["state"] == "running", run.get("failure")
        [trigger] = run["triggers"]
        assert (trigger["kind"], trigger["by"], trigger["reason"]) == (
            "manual",
            "writer",
            "new labels are in",
        )
        [request] = airflow.wait_for(1, "/api/v1/dags/train_fraud/dagRuns")
        assert sorted(request.body) == ["conf", "dag_run_id"]
        assert request.body["dag_run_id"] == "fraud-1"
        conf = request.body["conf"]
        assert (conf["model"], conf["version"], conf["run_id"]) == ("fraud", "3", "fraud-1")
        assert conf["callback_url"] == f"http://127.0.0.1:{port}/api/v1/runs/fraud-1/callback"
        assert [r["reason"] for r in conf["reasons"]] == ["new labels are in"]
    finally:
        airflow.stop()


REPORTING = """
import json, os, pathlib
from watchkeeper.retrain_callback import Callback
work = pathlib.Path(os.environ["WORK"])
run_id = os.environ["WK_RETRAIN_RUN_ID"]
(work / f"{run_id}.env").write_text(json.dumps({k: v for k, v in os.environ.items()
                                                if k.startswith("WK_RETRAIN_")}))
Callback.from_env().candidate(version=f"c-{run_id}", artifact_uri="file:///m.pkl",
                              metrics={"auc": 0.95}, datasets=[])
"""
TRIGGERS_POLICY = """
defaults: {{debounce_s: 0, cooldown_s: 1}}
models:
  fraud:
    triggers:
      drift: false
      new_data: {{dataset: tx, min_new_rows: 500}}
      {schedule}
    launcher: {{kind: local, command: [{python}, {script}], timeout_s: 60, env: {{WORK: "{work}"}}}}
    validation: {{skip: true}}
    approval: {{mode: manual, expiry_s: {expiry}}}
"""


def start_with(start_service, prefix, tmp_path, registry=None, schedule="", expiry=600):
    import sys

    script = tmp_path / "pipeline.py"
    script.write_text(REPORTING)
    policy = tmp_path / "retrain.yaml"
    policy.write_text(TRIGGERS_POLICY.format(python=sys.executable, script=script, work=tmp_path,
                                             schedule=schedule, expiry=expiry))  # fmt: skip
    port = free_port()
    extra = {}
    if registry is not None:
        extra = {"WK_RETRAIN_REGISTRY_URL": registry.url, "WK_RETRAIN_REGISTRY_TOKEN":
                 TOKENS["writer"], "WK_RETRAIN_NEW_DATA_POLL_S": "0.3"}  # fmt: skip
    return start_service(
        "services.retrain", prefix, WK_HTTP_PORT=str(port), WK_RETRAIN_POLICY=str(policy),
        WK_RETRAIN_API_TOKENS=TOKEN_TABLE, WK_RETRAIN_CALLBACK_SECRET=SECRET,
        WK_RETRAIN_PUBLIC_URL=f"http://127.0.0.1:{port}", WK_RETRAIN_TICK_S="0.2",
        WK_RETRAIN_STATE_DIR=str(tmp_path / "runs"), **extra,
    )  # fmt: skip


def test_a_new_version_of_the_training_data_starts_a_run_with_it(
    start_service, kafka_settings, prefix, tmp_path
):
    import json

    from .registry_support import client, start_registry

    registry = start_registry(start_service, prefix, tmp_path)
    reg = client(registry)
    reg.create_model("fraud")
    reg.register_dataset("tx", "2026-10", uri="s3://lake/tx/2026-10", row_count=1000)
    reg.register_version("fraud", "1", metrics={"auc": 0.9},
                         training_datasets=[{"name": "tx", "version": "2026-10"}])  # fmt: skip
    reg.record_validation("fraud", "1", True, {"auc": 0.9}, "test")
    reg.set_alias("fraud", "champion", "1")
    retrain = start_with(start_service, prefix, tmp_path, registry)
    reg.register_dataset("tx", "2026-11", uri="s3://lake/tx/2026-11", row_count=1200)  # +200
    reg.register_dataset("tx", "2026-12", uri="s3://lake/tx/2026-12", row_count=1800)  # +800
    run = run_in(retrain, "fraud-1", "awaiting_approval", "failed", timeout=60)
    assert run["state"] == "awaiting_approval", run.get("failure")
    [trigger] = run["triggers"]
    assert (trigger["kind"], trigger["dedup_key"]) == ("new_data", "new_data:tx:2026-12")
    assert trigger["reason"] == "dataset tx 2026-12: 1800 rows, 800 more than 2026-10"
    seen = json.loads((tmp_path / "fraud-1.env").read_text())
    assert json.loads(seen["WK_RETRAIN_DATASETS"]) == [
        {"name": "tx", "version": "2026-12", "uri": "s3://lake/tx/2026-12"}
    ]
    # The notification's signed link rejects it (a tampered one does not).
    codec = Codec()
    alerts = [codec.decode(v).record for _, v in read_to_end(kafka_settings, f"{prefix}alerts")]
    [waiting] = [a for a in alerts if a["labels"]["alertname"] == "RetrainApprovalNeeded"]
    link = waiting["annotations"]["reject_url"]
    assert httpx.get(link.replace("reject-link", "approve-link")).status_code == 403
    assert httpx.get(link).status_code == 200
    rejected = run_in(retrain, "fraud-1", "rejected")
    assert rejected["approval"]["by"] == "link"
    # The same dataset version does not start another run after this one ended.
    assert [r["id"] for r in api(retrain, "reader").get("/api/v1/runs")["runs"]] == ["fraud-1"]


def test_a_schedule_starts_a_run_and_an_unanswered_approval_expires(
    start_service, kafka_settings, prefix, tmp_path
):
    every_minute = 'schedule: {cron: "* * * * *", timezone: Europe/Paris}'
    retrain = start_with(start_service, prefix, tmp_path, schedule=every_minute, expiry=1)
    run = run_in(retrain, "fraud-1", "expired", "failed", timeout=90)  # the next minute, then 1 s
    assert run["state"] == "expired", run.get("failure")
    [trigger] = run["triggers"]
    assert trigger["kind"] == "schedule" and trigger["reason"] == "cron * * * * * (Europe/Paris)"
    codec = Codec()
    alerts = [codec.decode(v).record for _, v in read_to_end(kafka_settings, f"{prefix}alerts")]
    waits = [(a["labels"]["run"], a["status"]) for a in alerts
             if a["labels"]["alertname"] == "RetrainApprovalNeeded"]  # fmt: skip
    assert waits == [("fraud-1", "FIRING"), ("fraud-1", "RESOLVED")]
