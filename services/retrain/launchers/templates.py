"""The webhook templates: what each orchestrator's API wants to start, follow and stop a run.

A template turns a run into requests and the orchestrator's answers into our states; the
HTTP itself (tokens, timeouts, retries, the launch record) is ``webhook.WebhookLauncher``'s.

* **airflow**: ``POST {url}/api/v1/dags/{dag_id}/dagRuns`` with ``{"dag_run_id": run_id,
  "conf": <run context>}`` (Airflow 2's stable REST API). The DAG run id is ours, so
  Airflow itself deduplicates: a second trigger answers 409 and counts as launched. Poll:
  ``GET .../dagRuns/{run_id}`` (state queued, running, success, failed); cancel:
  ``PATCH .../dagRuns/{run_id}`` with ``{"state": "failed"}``.
* **github**: ``POST {url}/repos/{repo}/actions/workflows/{workflow}/dispatches`` with
  ``{"ref", "inputs": {run_id, model, version, callback_url}}``, answered 204. GitHub does
  not deduplicate and returns no run id: only our launch record prevents a second
  dispatch, nothing can be polled (the run is "running" until the callback says
  otherwise) or cancelled from here.
* **kubeflow**: ``POST {url}/apis/v2beta1/runs`` with ``{"display_name": run_id,
  "pipeline_version_reference": {"pipeline_id", "pipeline_version_id"},
  "runtime_config": {"parameters": {...}}}``; the answer's ``run_id`` is polled at
  ``GET /apis/v2beta1/runs/{id}`` and cancelled with ``POST .../runs/{id}:terminate``.
  Kubeflow does not deduplicate either.
* **generic**: ``POST {url}`` with the run context as JSON and ``Idempotency-Key:
  run_id``; optional ``status_url`` (GET, answering ``{"state": ...}`` in our words) and
  ``cancel_url`` (POST), both with ``{run_id}`` filled in.

>>> t = Airflow(url="http://airflow:8080/", dag_id="retrain_fraud")
>>> request = t.launch_request(RunContext("fraud-7", "fraud", "3.2.0"))
>>> request.method, request.url
('POST', 'http://airflow:8080/api/v1/dags/retrain_fraud/dagRuns')
>>> sorted(request.body), request.body["dag_run_id"]
(['conf', 'dag_run_id'], 'fraud-7')
>>> t.state({"state": "success"})
Status(state='succeeded', detail='airflow: success')
>>> t.state({"state": "queued"}).state
'running'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .base import Launched, LaunchError, RunContext, Status


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + path


def _state(name: str, raw: Any, mapping: dict[str, str]) -> Status:
    state = mapping.get(str(raw).lower())
    if state is None:
        # An unknown state is not a failure: orchestrators add states; wait for the callback.
        return Status("running", f"{name}: unknown state {raw!r}")
    return Status(state, f"{name}: {raw}")


@dataclass(frozen=True)
class Airflow:
    url: str
    dag_id: str
    name: str = "airflow"

    def _runs(self) -> str:
        return _join(self.url, f"/api/v1/dags/{quote(self.dag_id, safe='')}/dagRuns")

    def launch_request(self, ctx: RunContext) -> Request:
        return Request("POST", self._runs(), {"dag_run_id": ctx.run_id, "conf": ctx.conf()})

    def launched(self, ctx: RunContext, status: int, body: Any) -> Launched | None:
        if status == 409:  # "DAGRun with DAG ID ... and DAGRun ID ... already exists"
            return Launched(ctx.run_id, f"airflow: DAG run {ctx.run_id} already exists")
        if 200 <= status < 300:
            return Launched(ctx.run_id, f"airflow: DAG run {ctx.run_id} of {self.dag_id} queued")
        return None

    def status_request(self, launched: Launched) -> Request | None:
        return Request("GET", f"{self._runs()}/{quote(launched.external_id, safe='')}")

    def state(self, body: Any) -> Status:
        raw = body.get("state") if isinstance(body, dict) else None
        return _state(
            self.name,
            raw,
            {"queued": "running", "running": "running", "success": "succeeded", "failed": "failed"},
        )

    def cancel_request(self, launched: Launched) -> Request | None:
        url = f"{self._runs()}/{quote(launched.external_id, safe='')}"
        return Request("PATCH", url, {"state": "failed"})


@dataclass(frozen=True)
class GitHub:
    repo: str  # owner/name
    workflow: str  # the workflow file name (retrain.yml) or its id
    ref: str = "main"
    url: str = "https://api.github.com"
    send_token: bool = False  # inputs show in the run's page: the token only if asked
    name: str = "github"

    def __post_init__(self) -> None:
        if self.repo.count("/") != 1:
            raise ValueError(f"github: repo must be owner/name, got {self.repo!r}")

    def launch_request(self, ctx: RunContext) -> Request:
        inputs = {
            "run_id": ctx.run_id,
            "model": ctx.model,
            "version": ctx.version,
            "callback_url": ctx.callback_url,
        }
        if self.send_token:
            inputs["callback_token"] = ctx.callback_token
        url = _join(
            self.url,
            f"/repos/{self.repo}/actions/workflows/{quote(self.workflow, safe='')}/dispatches",
        )
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        return Request("POST", url, {"ref": self.ref, "inputs": inputs}, headers)

    def launched(self, ctx: RunContext, status: int, body: Any) -> Launched | None:
        if 200 <= status < 300:
            return Launched(ctx.run_id, f"github: {self.workflow} dispatched on {self.ref}")
        return None

    def status_request(self, launched: Launched) -> Request | None:
        return None

    def state(self, body: Any) -> Status:
        return Status("running", "github: no status; waiting for the callback")

    def cancel_request(self, launched: Launched) -> Request | None:
        return None


@dataclass(frozen=True)
class Kubeflow:
    url: str
    pipeline_id: str
    pipeline_version_id: str
    experiment_id: str | None = None
    name: str = "kubeflow"

    def launch_request(self, ctx: RunContext) -> Request:
        import json

        # Pipeline parameters are scalars: the lists travel as JSON strings.
        parameters = {
            "run_id": ctx.run_id,
            "model": ctx.model,
            "version": ctx.version,
            "reasons": json.dumps(ctx.reasons),
            "datasets": json.dumps(ctx.datasets),
            "callback_url": ctx.callback_url,
            "callback_token": ctx.callback_token,
        }
        body: dict[str, Any] = {
            "display_name": ctx.run_id,
            "pipeline_version_reference": {
                "pipeline_id": self.pipeline_id,
                "pipeline_version_id": self.pipeline_version_id,
            },
            "runtime_config": {"parameters": parameters},
        }
        if self.experiment_id:
            body["experiment_id"] = self.experiment_id
        return Request("POST", _join(self.url, "/apis/v2beta1/runs"), body)

    def launched(self, ctx: RunContext, status: int, body: Any) -> Launched | None:
        if 200 <= status < 300:
            run_id = body.get("run_id") if isinstance(body, dict) else None
            if not run_id:
                raise LaunchError(f"kubeflow answered {status} without a run_id")
            return Launched(str(run_id), f"kubeflow: run {run_id} created")
        return None

    def status_request(self, launched: Launched) -> Request | None:
        run = quote(launched.external_id, safe="")
        return Request("GET", _join(self.url, f"/apis/v2beta1/runs/{run}"))

    def state(self, body: Any) -> Status:
        raw = body.get("state") if isinstance(body, dict) else None
        return _state(
            self.name,
            raw,
            {
                "pending": "running",
                "running": "running",
                "paused": "running",
                "canceling": "running",
                "succeeded": "succeeded",
                "skipped": "succeeded",
                "failed": "failed",
                "canceled": "failed",
            },
        )

    def cancel_request(self, launched: Launched) -> Request | None:
        run = quote(launched.external_id, safe="")
        return Request("POST", _join(self.url, f"/apis/v2beta1/runs/{run}:terminate"), {})


@dataclass(frozen=True)
class Generic:
    url: str
    status_url: str | None = None  # with {run_id}; GET answers {"state": running|...}
    cancel_url: str | None = None  # with {run_id}; POST
    name: str = "generic"

    def launch_request(self, ctx: RunContext) -> Request:
        return Request("POST", self.url, ctx.conf(), {"Idempotency-Key": ctx.run_id})

    def launched(self, ctx: RunContext, status: int, body: Any) -> Launched | None:
        if 200 <= status < 300 or status == 409:
            external = body.get("id") if isinstance(body, dict) else None
            return Launched(str(external or ctx.run_id), f"generic: accepted with {status}")
        return None

    def status_request(self, launched: Launched) -> Request | None:
        if not self.status_url:
            return None
        return Request("GET", self.status_url.format(run_id=quote(launched.external_id, safe="")))

    def state(self, body: Any) -> Status:
        raw = body.get("state") if isinstance(body, dict) else None
        return _state(
            self.name, raw, {"running": "running", "succeeded": "succeeded", "failed": "failed"}
        )

    def cancel_request(self, launched: Launched) -> Request | None:
        if not self.cancel_url:
            return None
        url = self.cancel_url.format(run_id=quote(launched.external_id, safe=""))
        return Request("POST", url, {"run_id": launched.external_id})


Template = Airflow | GitHub | Kubeflow | Generic
TEMPLATES: dict[str, type] = {
    "airflow": Airflow,
    "github": GitHub,
    "kubeflow": Kubeflow,
    "generic": Generic,
}
