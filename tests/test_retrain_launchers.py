"""The retrain launchers against real processes and real HTTP servers.

Local: a tiny Python script is the pipeline (it records its environment, appends to a
launch counter, waits for a "go" file); webhooks: ``WebhookReceiver`` with scripted
answers for the launch calls, and a small scripted JSON API for the orchestrators'
GET/PATCH calls and Kubeflow's answer body (the receiver only takes POSTs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from services.retrain.launchers import (
    Airflow,
    Generic,
    GitHub,
    Kubeflow,
    LaunchError,
    LocalLauncher,
    Retry,
    RunContext,
    WebhookLauncher,
    build,
)
from watchkeeper.devstack import WebhookReceiver
from watchkeeper.ports import free_port

REPO = Path(__file__).resolve().parent.parent

CTX = RunContext(
    "fraud-7",
    "fraud",
    "3.2.0",
    reasons=[{"kind": "drift", "reason": "amount PSI 0.31", "dedup_key": "d1", "evidence": {}}],
    datasets=[{"name": "fraud-train", "version": "12", "uri": "file:///data/fraud/12.csv"}],
    callback_url="http://127.0.0.1:9/api/v1/runs/fraud-7/callback",
    callback_token="secret-7",
    env={"WK_RETRAIN_MAX_EVENTS": "500"},
)

# The pipeline: appends to launches.txt, dumps its WK_* environment, talks on both
# streams, then waits for go (or exits with $EXIT_CODE straight away if set).
PIPELINE = textwrap.dedent(
    """
    import json, os, pathlib, sys, time
    work = pathlib.Path(sys.argv[1])
    with open(work / "launches.txt", "a") as f:
        f.write(os.environ["WK_RETRAIN_RUN_ID"] + "\\n")
    (work / "env.json").write_text(json.dumps(
        {k: v for k, v in os.environ.items() if k.startswith("WK_")}))
    print("training on", os.environ["WK_RETRAIN_MODEL"], flush=True)
    print("a warning on stderr", file=sys.stderr, flush=True)
    if os.environ.get("EXIT_CODE"):
        sys.exit(int(os.environ["EXIT_CODE"]))
    while not (work / "go").exists():
        time.sleep(0.02)
    """
)


def wait_until(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # A zombie (our own unreaped child) counts as gone.
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    return tmp_path


def local(work: Path, **options) -> LocalLauncher:
    return LocalLauncher(
        [sys.executable, str(work / "pipeline.py"), str(work)], work / "state", **options
    )


def launches(work: Path) -> list[str]:
    path = work / "launches.txt"
    return path.read_text().splitlines() if path.exists() else []


# -- local ------------------------------------------------------------------------------


def test_local_pipeline_sees_the_run_in_its_environment_and_its_log_is_kept(work, monkeypatch):
    monkeypatch.setenv("EXIT_CODE", "0")
    launcher = local(work, env={"WK_RETRAIN_HOLDOUT": "0.25"})
    launched = launcher.launch(CTX)
    assert launched.external_id == "fraud-7"
    assert launcher.wait(launched, timeout_s=60).state == "succeeded"
    env = json.loads((work / "env.json").read_text())
    assert env["WK_RETRAIN_RUN_ID"] == "fraud-7"
    assert env["WK_RETRAIN_MODEL"] == "fraud"
    assert env["WK_RETRAIN_VERSION"] == "3.2.0"
    assert json.loads(env["WK_RETRAIN_REASONS"]) == CTX.reasons
    assert json.loads(env["WK_RETRAIN_DATASETS"]) == CTX.datasets
    assert env["WK_RETRAIN_CALLBACK_URL"] == CTX.callback_url
    assert env["WK_RETRAIN_CALLBACK_TOKEN"] == "secret-7"
    assert env["WK_RETRAIN_HOLDOUT"] == "0.25"  # the launcher's env
    assert env["WK_RETRAIN_MAX_EVENTS"] == "500"  # the run's (policy) env
    log = (work / "state" / "fraud-7" / "log").read_text()
    assert "training on fraud" in log and "a warning on stderr" in log
    assert json.loads((work / "state" / "fraud-7" / "exit.json").read_text()) == {"code": 0}


def test_local_failure_carries_the_exit_code_and_the_log_tail(work, monkeypatch):
    monkeypatch.setenv("EXIT_CODE", "3")
    launcher = local(work)
    status = launcher.wait(launcher.launch(CTX), timeout_s=60)
    assert status.state == "failed"
    assert status.detail.startswith("exited with code 3; log tail:\n")
    assert "a warning on stderr" in status.detail


def test_local_command_that_cannot_start_fails_with_the_reason(work):
    launcher = LocalLauncher([str(work / "no-such-trainer")], work / "state")
    status = launcher.wait(launcher.launch(CTX), timeout_s=60)
    assert status.state == "failed"
    assert "cannot start" in status.detail and "No such file or directory" in status.detail


def test_local_timeout_kills_the_whole_process_group(work):
    # The pipeline starts a grandchild and both hang: the timeout must take both.
    script = work / "hang.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import pathlib, subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            pathlib.Path({str(work / "grandchild.pid")!r}).write_text(str(child.pid))
            time.sleep(600)
            """
        )
    )
    launcher = LocalLauncher([sys.executable, str(script)], work / "state", timeout_s=1)
    launched = launcher.launch(CTX)
    grandchild = int(wait_until(lambda: _read(work / "grandchild.pid"), what="the grandchild"))
    status = launcher.wait(launched, timeout_s=60)
    assert status.state == "failed"
    assert status.detail.startswith("timed out after 1 s")
    wait_until(lambda: not pid_alive(grandchild), what="the grandchild to die")
    assert launcher.poll(launched).state == "failed"  # and it stays failed


def test_local_cancel_terms_then_kills(work):
    script = work / "stubborn.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import pathlib, signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            pathlib.Path({str(work / "ready")!r}).write_text("1")
            time.sleep(600)
            """
        )
    )
    launcher = LocalLauncher([sys.executable, str(script)], work / "state", grace_s=0.5)
    launched = launcher.launch(CTX)
    wait_until(lambda: (work / "ready").exists(), what="the pipeline to start")
    assert launcher.poll(launched).state == "running"
    detail = launcher.cancel(launched)
    assert detail.startswith("cancelled: process group") and detail.endswith("SIGKILL")
    status = launcher.poll(launched)
    assert status.state == "failed" and status.detail.startswith("cancelled")
    assert launcher.cancel(launched) == "not running: nothing to cancel"


def test_local_cancel_of_a_polite_pipeline_needs_only_sigterm(work):
    launcher = local(work)
    launched = launcher.launch(CTX)
    wait_until(lambda: launches(work), what="the pipeline to start")
    assert launcher.cancel(launched).endswith("SIGTERM")
    assert launcher.poll(launched).detail.startswith("cancelled")


def test_local_relaunch_reattaches_and_never_starts_a_second_pipeline(work):
    first = local(work)
    first.launch(CTX)
    wait_until(lambda: launches(work), what="the first launch")
    # A restarted service: a new launcher on the same state folder.
    second = local(work)
    launched = second.launch(CTX)
    assert launched.detail.startswith("already running (pid ")
    assert second.poll(launched).state == "running"
    (work / "go").write_text("1")
    assert second.wait(launched, timeout_s=60).state == "succeeded"
    assert second.launch(CTX).detail == "already launched; it ended"
    assert launches(work) == ["fraud-7"]


def test_local_launch_survives_a_kill_9_of_the_service(work):
    # The "service" is a separate process that launches and is then killed with SIGKILL.
    service = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from services.retrain.launchers import LocalLauncher, RunContext
                launcher = LocalLauncher(
                    [sys.executable, {str(work / "pipeline.py")!r}, {str(work)!r}],
                    {str(work / "state")!r})
                launcher.launch(RunContext("fraud-7", "fraud", "3.2.0"))
                print("launched", flush=True)
                time.sleep(600)
                """
            ),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout.readline().strip() == "launched"
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=30)
    finally:
        service.kill()
    wait_until(lambda: launches(work), what="the pipeline to start")
    restarted = local(work)
    launched = restarted.launch(CTX)
    assert launched.detail.startswith("already running")
    (work / "go").write_text("1")
    assert restarted.wait(launched, timeout_s=60).state == "succeeded"
    assert launches(work) == ["fraud-7"]


def test_local_runs_launched_together_from_threads_start_once(work):
    launcher = local(work)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(launcher.launch(CTX))) for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_until(lambda: launches(work), what="the launch")
    (work / "go").write_text("1")
    assert launcher.wait(results[0], timeout_s=60).state == "succeeded"
    assert len(results) == 5 and launches(work) == ["fraud-7"]


def _read(path: Path) -> str | None:
    try:
        return path.read_text() or None
    except FileNotFoundError:
        return None


# -- webhooks ---------------------------------------------------------------------------


class ScriptedAPI:
    """A JSON API on 127.0.0.1: each (method, path) answers a scripted (status, body)."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], tuple[int, object]] = {}
        self.calls: list[tuple[str, str, object, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                outer.calls.append(
                    (self.command, self.path, body, {k.lower(): v for k, v in self.headers.items()})
                )
                status, answer = outer.answers.get(
                    (self.command, self.path), (404, {"detail": "no"})
                )
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _any

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = WebhookReceiver(port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def api():
    server = ScriptedAPI()
    yield server
    server.stop()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("orchestrator-token\n")
    return path


DAG_RUNS = "/api/v1/dags/retrain_fraud/dagRuns"


def test_airflow_body_matches_the_dag_runs_api(receiver, tmp_path, token_file):
    launcher = WebhookLauncher(
        Airflow(receiver.url, "retrain_fraud"), tmp_path / "state", token_file=token_file
    )
    launched = launcher.launch(CTX)
    assert launched.external_id == "fraud-7"
    [request] = receiver.requests(DAG_RUNS)
    # Airflow's DAGRun body: dag_run_id (ours, so Airflow deduplicates) and conf (any JSON).
    assert request.body == {
        "dag_run_id": "fraud-7",
        "conf": {
            "run_id": "fraud-7",
            "model": "fraud",
            "version": "3.2.0",
            "reasons": CTX.reasons,
            "datasets": CTX.datasets,
            "callback_url": CTX.callback_url,
            "callback_token": "secret-7",
        },
    }
    assert request.headers["authorization"] == "Bearer orchestrator-token"
    assert request.headers["content-type"] == "application/json"
    # Launched once: a second launch reads the record and calls nobody.
    assert launcher.launch(CTX).detail.startswith("already launched")
    assert len(receiver.requests()) == 1


def test_airflow_409_already_exists_is_a_launch(receiver, tmp_path):
    receiver.script(DAG_RUNS, [409])
    launched = WebhookLauncher(Airflow(receiver.url, "retrain_fraud"), tmp_path).launch(CTX)
    assert launched.external_id == "fraud-7" and "already exists" in launched.detail


def test_airflow_500_is_retryable_then_launches(receiver, tmp_path):
    receiver.script(DAG_RUNS, [500])
    launcher = WebhookLauncher(Airflow(receiver.url, "retrain_fraud"), tmp_path)
    with pytest.raises(Retry, match="airflow answered 500"):
        launcher.launch(CTX)
    assert launcher.launch(CTX).external_id == "fraud-7"
    assert [r.status for r in receiver.requests(DAG_RUNS)] == [500, 200]


def test_airflow_400_is_a_failed_launch_with_the_reason(receiver, tmp_path):
    receiver.script(DAG_RUNS, [400])
    launcher = WebhookLauncher(Airflow(receiver.url, "retrain_fraud"), tmp_path)
    with pytest.raises(LaunchError, match=r"airflow answered 400 to POST .*dagRuns: .*scripted"):
        launcher.launch(CTX)
    assert not (tmp_path / "fraud-7" / "launched.json").exists()


def test_unreachable_orchestrator_is_retryable(tmp_path):
    launcher = WebhookLauncher(Airflow(f"http://127.0.0.1:{free_port()}", "d"), tmp_path)
    with pytest.raises(Retry, match="cannot reach"):
        launcher.launch(CTX)


def test_airflow_poll_and_cancel_follow_the_dag_run(api, tmp_path, token_file):
    launcher = WebhookLauncher(Airflow(api.url, "retrain_fraud"), tmp_path, token_file=token_file)
    api.answers[("POST", DAG_RUNS)] = (200, {"dag_run_id": "fraud-7", "state": "queued"})
    launched = launcher.launch(CTX)
    states = []
    for airflow_state in ("queued", "running", "success", "failed"):
        api.answers[("GET", f"{DAG_RUNS}/fraud-7")] = (200, {"state": airflow_state})
        states.append(launcher.poll(launched).state)
    assert states == ["running", "running", "succeeded", "failed"]
    api.answers[("PATCH", f"{DAG_RUNS}/fraud-7")] = (200, {"state": "failed"})
    assert launcher.cancel(launched) == "airflow: cancel sent (200)"
    method, path, body, headers = api.calls[-1]
    assert (method, path, body) == ("PATCH", f"{DAG_RUNS}/fraud-7", {"state": "failed"})
    assert headers["authorization"] == "Bearer orchestrator-token"


def test_github_dispatch_body_and_no_status(receiver, tmp_path):
    path = "/repos/acme/models/actions/workflows/retrain.yml/dispatches"
    receiver.script(path, [204])
    launcher = WebhookLauncher(
        GitHub("acme/models", "retrain.yml", ref="main", url=receiver.url), tmp_path
    )
    launched = launcher.launch(CTX)
    [request] = receiver.requests(path)
    assert request.body == {
        "ref": "main",
        "inputs": {
            "run_id": "fraud-7",
            "model": "fraud",
            "version": "3.2.0",
            "callback_url": CTX.callback_url,
        },
    }
    assert request.headers["accept"] == "application/vnd.github+json"
    status = launcher.poll(launched)
    assert status.state == "running" and "callback" in status.detail
    assert "cannot cancel" in launcher.cancel(launched)
    launcher.launch(CTX)  # GitHub would start a second workflow: our record prevents it
    assert len(receiver.requests(path)) == 1


def test_kubeflow_run_body_poll_and_terminate(api, tmp_path):
    api.answers[("POST", "/apis/v2beta1/runs")] = (200, {"run_id": "kfp-123", "state": "PENDING"})
    launcher = WebhookLauncher(Kubeflow(api.url, "pipe-1", "pipe-1-v3"), tmp_path)
    launched = launcher.launch(CTX)
    assert launched.external_id == "kfp-123"
    _, _, body, _ = api.calls[0]
    assert body["display_name"] == "fraud-7"
    assert body["pipeline_version_reference"] == {
        "pipeline_id": "pipe-1",
        "pipeline_version_id": "pipe-1-v3",
    }
    parameters = body["runtime_config"]["parameters"]
    assert parameters["run_id"] == "fraud-7" and json.loads(parameters["reasons"]) == CTX.reasons
    api.answers[("GET", "/apis/v2beta1/runs/kfp-123")] = (200, {"state": "SUCCEEDED"})
    assert launcher.poll(launched).state == "succeeded"
    api.answers[("POST", "/apis/v2beta1/runs/kfp-123:terminate")] = (200, {})
    assert launcher.cancel(launched) == "kubeflow: cancel sent (200)"


def test_kubeflow_answer_without_a_run_id_is_a_failed_launch(receiver, tmp_path):
    launcher = WebhookLauncher(Kubeflow(receiver.url, "p", "v"), tmp_path)
    with pytest.raises(LaunchError, match="without a run_id"):
        launcher.launch(CTX)


def test_generic_posts_the_context_with_an_idempotency_key(receiver, tmp_path):
    launcher = WebhookLauncher(Generic(receiver.url + "/retrain"), tmp_path)
    launcher.launch(CTX)
    [request] = receiver.requests("/retrain")
    assert request.body == CTX.conf()
    assert request.headers["idempotency-key"] == "fraud-7"
    assert launcher.poll(launcher.launch(CTX)).state == "running"


def test_build_from_the_policy(tmp_path, token_file):
    airflow = build(
        {"kind": "airflow", "url": "http://af", "dag_id": "d", "token_file": str(token_file)},
        tmp_path,
    )
    assert isinstance(airflow, WebhookLauncher) and airflow.kind == "airflow"
    launcher = build({"kind": "local", "command": ["true"], "timeout": 60}, tmp_path)
    assert isinstance(launcher, LocalLauncher) and launcher.timeout_s == 60
    with pytest.raises(ValueError, match=r"unknown keys \['dagid'\]"):
        build({"kind": "airflow", "url": "http://af", "dag_id": "d", "dagid": "x"}, tmp_path)
    with pytest.raises(ValueError, match="positive number of seconds"):
        build({"kind": "local", "command": ["true"], "timeout": -1}, tmp_path)
    with pytest.raises(ValueError, match="owner/name"):
        build({"kind": "github", "repo": "models", "workflow": "r.yml"}, tmp_path)
