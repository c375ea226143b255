"""Triggers and launches through the retrain service on a real broker: a person's
trigger starts a run at once (no debounce), and a webhook launcher triggers a DAG run on
an Airflow-shaped HTTP server with the body of Airflow's dagRuns API."""

from __future__ import annotations

import pytest

from watchkeeper.devstack import WebhookReceiver
from watchkeeper.ports import free_port

from .registry_support import TOKEN_TABLE
from .rollout_support import api
from .test_retrain_service import SECRET, run_in

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
