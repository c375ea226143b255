"""MLflow's REST API 2.0, the calls the registry sync needs, over httpx (no ``mlflow``
package: it is far too heavy for our venv, and the REST API is what MLflow keeps stable).

Errors come back as ``MlflowError`` (MLflow's ``error_code`` and message) and an unreachable
server as ``MlflowUnreachable``, so that callers report them rather than print tracebacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

API = "/api/2.0/mlflow"
PAGE = 1000  # registered-models/search's largest page; model-versions/search allows more


class MlflowUnreachable(Exception):
    """No answer at all from the server (refused, DNS, timeout)."""


class MlflowError(Exception):
    """MLflow answered with an error: ``status``, ``code`` (e.g. RESOURCE_DOES_NOT_EXIST)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"mlflow {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def tag_dict(items: list[dict[str, str]] | None) -> dict[str, str]:
    """MLflow's ``[{"key", "value"}]`` lists as a dict.

    >>> tag_dict([{"key": "team", "value": "risk"}, {"key": "empty"}])
    {'team': 'risk', 'empty': ''}
    """
    return {item["key"]: item.get("value", "") for item in items or []}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """The reverse of ``tag_dict``, sorted so that requests are deterministic.

    >>> tag_list({"b": "2", "a": "1"})
    [{'key': 'a', 'value': '1'}, {'key': 'b', 'value': '2'}]
    """
    return [{"key": key, "value": tags[key]} for key in sorted(tags)]


def quote(value: str) -> str:
    """A string literal for MLflow's filter language (single quotes, backslash-escaped).

    >>> quote("it's")
    "'it\\\\'s'"
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MlflowRest:
    """One MLflow tracking server at ``base_url`` (e.g. ``http://127.0.0.1:5000``)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url + API, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MlflowRest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict:
        """One request; GET sends ``body`` as query parameters, the rest as JSON."""
        try:
            if method == "GET":
                response = self._http.get(path, params=body)
            else:
                response = self._http.request(method, path, json=body or {})
        except httpx.TransportError as exc:
            raise MlflowUnreachable(
                f"mlflow at {self.base_url} is unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = {"message": response.text[:200]}
        if response.status_code >= 400:
            raise MlflowError(
                response.status_code,
                str(payload.get("error_code", "")),
                str(payload.get("message", "")),
            )
        if not isinstance(payload, dict):
            raise MlflowError(response.status_code, "BAD_RESPONSE", f"not a JSON object: {path}")
        return payload

    def get(self, path: str, **query: Any) -> dict:
        return self.call("GET", path, query)

    def post(self, path: str, **body: Any) -> dict:
        return self.call("POST", path, body)

    def _pages(self, path: str, field: str, **query: Any) -> Iterator[dict]:
        token = ""
        while True:
            page = self.get(path, **query, **({"page_token": token} if token else {}))
            yield from page.get(field, [])
            token = page.get("next_page_token", "")
            if not token:
                return

    def check(self) -> None:
        """Raise unless an MLflow tracking server answers here (a cheap read)."""
        self.get("registered-models/search", max_results=1)

    # -- registered models ---------------------------------------------------------

    def registered_models(self) -> list[dict]:
        return list(self._pages("registered-models/search", "registered_models", max_results=PAGE))

    def registered_model(self, name: str) -> dict | None:
        try:
            return self.get("registered-models/get", name=name)["registered_model"]
        except MlflowError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def model_versions(self, name: str) -> list[dict]:
        """Every version of ``name``, oldest first (MLflow numbers them 1, 2, ...)."""
        found = self._pages(
            "model-versions/search",
            "model_versions",
            filter=f"name={quote(name)}",
            max_results=PAGE,
        )
        return sorted(found, key=lambda v: int(v["version"]))

    # -- runs ------------------------------------------------------------------------

    def run(self, run_id: str) -> dict | None:
        """The run (its ``data.metrics`` hold each key's latest value), None if gone."""
        try:
            return self.get("runs/get", run_id=run_id)["run"]
        except MlflowError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def experiment_id(self, name: str) -> str:
        """The id of the experiment ``name``, created if missing."""
        try:
            found = self.get("experiments/get-by-name", experiment_name=name)
            return found["experiment"]["experiment_id"]
        except MlflowError as exc:
            if exc.code != "RESOURCE_DOES_NOT_EXIST":
                raise
        return self.post("experiments/create", name=name)["experiment_id"]

    def search_runs(self, experiment_id: str, filter_string: str) -> list[dict]:
        runs, token = [], ""
        while True:
            body: dict[str, Any] = {
                "experiment_ids": [experiment_id],
                "filter": filter_string,
                "max_results": PAGE,
            }
            if token:
                body["page_token"] = token
            page = self.call("POST", "runs/search", body)
            runs.extend(page.get("runs", []))
            token = page.get("next_page_token", "")
            if not token:
                return runs

    def log_batch(
        self, run_id: str, params: dict[str, str], metrics: dict[str, float], timestamp_ms: int
    ) -> None:
        """Params and metrics in MLflow's batch limits (100 params, 1000 entries a call)."""
        param_items = tag_list(params)
        metric_items = [
            {"key": key, "value": metrics[key], "timestamp": timestamp_ms, "step": 0}
            for key in sorted(metrics)
        ]
        while param_items or metric_items:
            chunk_params, param_items = param_items[:100], param_items[100:]
            room = 1000 - len(chunk_params)
            chunk_metrics, metric_items = metric_items[:room], metric_items[room:]
            self.post("runs/log-batch", run_id=run_id, params=chunk_params, metrics=chunk_metrics)
