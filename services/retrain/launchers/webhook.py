"""The webhook launcher: one HTTP call starts the pipeline on an orchestrator.

The request itself comes from a template (``templates``: Airflow, GitHub Actions,
Kubeflow Pipelines, generic). This module does what all of them share:

* the token comes from a file (read at each call, so a rotated secret is picked up) and
  goes out as ``Authorization: Bearer``;
* every call has a timeout;
* 5xx, 429, timeouts and refused connections raise ``Retry`` (the service backs off and
  calls again; that is safe because of the next point); any other 4xx, except the
  template's "already exists" answer, raises ``LaunchError`` with the status and the
  start of the answer's body;
* a successful launch is recorded in ``<state_dir>/<run_id>/launched.json`` before
  ``launch`` returns, and a launch with a record returns it without calling out again.
  Airflow deduplicates by our DAG run id anyway; GitHub and Kubeflow do not, so for them
  the record is the only guard, and a crash between their answer and our write (a few
  milliseconds) can still start a second pipeline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from .base import Launched, LaunchError, Retry, RunContext, Status
from .templates import Request, Template


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")


class WebhookLauncher:
    def __init__(
        self,
        template: Template,
        state_dir: str | Path,
        *,
        token_file: str | Path | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout must be positive, got {timeout_s!r}")
        self.template = template
        self.kind = template.name
        self.state_dir = Path(state_dir)
        self.token_file = Path(token_file) if token_file else None
        self.timeout_s = timeout_s
        self._transport = transport

    def launch(self, ctx: RunContext) -> Launched:
        record = self.state_dir / ctx.run_id / "launched.json"
        try:
            saved = json.loads(record.read_text())
            return Launched(saved["external_id"], f"already launched: {saved['detail']}")
        except (OSError, ValueError, KeyError):
            pass
        request = self.template.launch_request(ctx)
        response = self._send(request)
        launched = self.template.launched(ctx, response.status_code, _body(response))
        if launched is None:
            raise LaunchError(
                f"{self.kind} answered {response.status_code} to {request.method} "
                f"{request.url}: {_excerpt(response)}"
            )
        record.parent.mkdir(parents=True, exist_ok=True)
        temp = record.with_suffix(".tmp")
        saved = {"external_id": launched.external_id, "detail": launched.detail}
        temp.write_text(json.dumps(saved))
        os.replace(temp, record)
        return launched

    def poll(self, launched: Launched) -> Status:
        request = self.template.status_request(launched)
        if request is None:
            return self.template.state(None)
        response = self._send(request)
        if response.status_code == 404:
            return Status("failed", f"{self.kind}: run {launched.external_id} not found")
        if response.status_code >= 400:
            raise LaunchError(f"{self.kind} answered {response.status_code}: {_excerpt(response)}")
        return self.template.state(_body(response))

    def cancel(self, launched: Launched) -> str:
        request = self.template.cancel_request(launched)
        if request is None:
            return f"{self.kind}: cannot cancel from here; later callbacks are refused"
        response = self._send(request)
        if response.status_code >= 400:
            raise LaunchError(f"{self.kind} answered {response.status_code}: {_excerpt(response)}")
        return f"{self.kind}: cancel sent ({response.status_code})"

    # -- HTTP ---------------------------------------------------------------------------

    def _token(self) -> str | None:
        if self.token_file is None:
            return None
        try:
            return self.token_file.read_text().strip()
        except OSError as exc:
            raise LaunchError(f"{self.kind}: cannot read the token file: {exc.strerror}") from None

    def _send(self, request: Request) -> httpx.Response:
        headers = {"Content-Type": "application/json", **request.headers}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with httpx.Client(timeout=self.timeout_s, transport=self._transport) as client:
                response = client.request(
                    request.method,
                    request.url,
                    headers=headers,
                    content=None if request.body is None else json.dumps(request.body),
                )
        except httpx.TimeoutException:
            why = f"no answer from {request.url} in {self.timeout_s:g} s"
            raise Retry(f"{self.kind}: {why}") from None
        except httpx.TransportError as exc:
            raise Retry(f"{self.kind}: cannot reach {request.url}: {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise Retry(f"{self.kind} answered {response.status_code}: {_excerpt(response)}")
        return response
