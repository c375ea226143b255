"""The client a retraining pipeline uses to report to the retrain service.

The service starts the pipeline with ``WK_RETRAIN_CALLBACK_URL``, ``_TOKEN`` and
``_RUN_ID`` in its environment (the local launcher does; webhook pipelines receive them in
their run's parameters and can export them). The pipeline then reports progress, and at
the end either its candidate or why it failed::

    from watchkeeper.retrain_callback import Callback

    callback = Callback.from_env()
    callback.progress("read 5000 events")
    callback.candidate("3.2.0-r7", "s3://models/fraud/3.2.0-r7/model.pkl",
                       metrics={"accuracy": 0.97, "auc": 0.91},
                       datasets=[{"name": "fraud-train", "version": "3.2.0-r7",
                                  "uri": "s3://data/fraud/r7.csv",
                                  "content_hash": "sha256:...", "row_count": 4000}])

A 5xx or a connection error is retried with exponential backoff (the service may be
restarting); a 4xx is the service refusing the report (401: wrong token, 404: unknown
run, 400/422: a bad body) and raises ``CallbackError`` at once with the service's reason.
Only the base install (httpx) is needed.

>>> Callback("http://127.0.0.1:1/api/v1/runs/fraud-7/callback", "tok", "fraud-7").run_id
'fraud-7'
>>> import os
>>> os.environ.pop("WK_RETRAIN_CALLBACK_URL", None) and None
>>> Callback.from_env()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
watchkeeper.retrain_callback.CallbackError: WK_RETRAIN_CALLBACK_URL is not set: ...
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx


class CallbackError(RuntimeError):
    """The service refused the report (4xx), or could not be reached within the retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Callback:
    def __init__(
        self,
        url: str,
        token: str,
        run_id: str,
        *,
        timeout_s: float = 10.0,
        attempts: int = 6,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise CallbackError(f"callback URL must be http(s), got {url!r}")
        if attempts < 1:
            raise CallbackError(f"attempts must be at least 1, got {attempts}")
        self.url = url
        self.token = token
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s

    @classmethod
    def from_env(cls, **options: Any) -> Callback:
        values = {}
        for name in ("URL", "TOKEN", "RUN_ID"):
            variable = f"WK_RETRAIN_CALLBACK_{name}" if name != "RUN_ID" else "WK_RETRAIN_RUN_ID"
            value = os.environ.get(variable)
            if not value:
                raise CallbackError(
                    f"{variable} is not set: run this from a retrain launcher, or set it"
                )
            values[name] = value
        return cls(values["URL"], values["TOKEN"], values["RUN_ID"], **options)

    def __repr__(self) -> str:  # never the token
        return f"Callback({self.url!r}, run_id={self.run_id!r})"

    # -- the reports --------------------------------------------------------------------

    def progress(self, message: str) -> None:
        self.send({"kind": "progress", "message": str(message)})

    def candidate(
        self,
        version: str,
        artifact_uri: str,
        metrics: Mapping[str, float],
        datasets: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any] | None = None,
    ) -> None:
        bad = {k: v for k, v in metrics.items() if not _finite(v)}
        if bad:
            # JSON has no NaN or Infinity, and the service refuses them: say which here.
            raise CallbackError(f"metrics must be finite numbers, got {bad}")
        for dataset in datasets:
            missing = [key for key in ("name", "version", "uri") if not dataset.get(key)]
            if missing:
                raise CallbackError(f"dataset {dict(dataset)} lacks {', '.join(missing)}")
        self.send(
            {
                "kind": "candidate",
                "version": str(version),
                "artifact_uri": str(artifact_uri),
                "metrics": {str(k): float(v) for k, v in metrics.items()},
                "datasets": [dict(d) for d in datasets],
                "params": dict(params or {}),
            }
        )

    def failed(self, reason: str) -> None:
        self.send({"kind": "failed", "reason": str(reason)})

    # -- transport ----------------------------------------------------------------------

    def send(self, body: Mapping[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        delay = self.backoff_s
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = httpx.post(
                    self.url, json=dict(body), headers=headers, timeout=self.timeout_s
                )
            except httpx.TransportError as exc:
                last = f"cannot reach {self.url}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                if response.status_code < 500 and response.status_code != 429:
                    raise CallbackError(
                        f"the service refused the {body.get('kind')} report with "
                        f"{response.status_code}: {_reason(response)}",
                        response.status_code,
                    )
                last = f"{response.status_code}: {_reason(response)}"
            if attempt < self.attempts:
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
        raise CallbackError(f"gave up after {self.attempts} attempts; last: {last}")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(body, dict):
        for key in ("detail", "error", "reason", "message"):
            if key in body:
                return str(body[key])[:300]
    return str(body)[:300]
