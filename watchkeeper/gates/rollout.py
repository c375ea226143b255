"""``gate rollout``: start a progressive rollout (canary) and wait for its outcome.

The spec file (YAML) goes as JSON to the rollout service, ``POST /api/v1/rollouts``
(with an ``Idempotency-Key``: a fresh one per run, or ``--idempotency-key``, e.g. the CI
job's id, so a retried job follows the rollout it started instead of starting another);
then ``GET /api/v1/rollouts/{id}`` until ``state`` is terminal: ``promoted`` passes,
``rolled_back`` and ``aborted`` fail with the service's ``reason``, and so does the
timeout. A spec the service refuses as malformed (400, 422) is bad input: exit 2.

>>> TERMINAL["promoted"], TERMINAL["rolled_back"]
(True, False)

Recorded on the spec's ``model`` / ``candidate``: ``metrics`` ``duration_s``;
``details`` the rollout id, its final state and reason.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..control.client import ApiError, Client
from ..yamlconf import ConfigFileError, Mapping, load_file
from .report import GateResult, UsageError

TERMINAL = {"promoted": True, "rolled_back": False, "aborted": False}


def load_spec(path: str | Path) -> dict[str, Any]:
    try:
        doc = load_file(path)
    except ConfigFileError as exc:
        raise UsageError(str(exc)) from None
    if not isinstance(doc, Mapping):
        raise UsageError(f"{path}: a rollout spec is a mapping (model, candidate, steps, ...)")
    for key in ("model", "candidate"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise UsageError(str(doc.error(key if key in doc else None, f"the spec needs {key}")))
    return doc


def rollout(
    url: str,
    spec: dict[str, Any],
    token: str | None = None,
    timeout_s: float = 1800.0,
    poll_s: float = 2.0,
    idempotency_key: str | None = None,
    client: Client | None = None,
    log=print,
) -> GateResult:
    model, candidate = str(spec["model"]), str(spec["candidate"])
    result = GateResult("rollout", model, candidate)
    started = time.monotonic()
    api = client or Client(url, token)
    try:
        try:
            answer = api.write("POST", "/api/v1/rollouts", spec, idempotency_key=idempotency_key)
        except ApiError as exc:
            if exc.status in (400, 422):
                raise UsageError(f"the rollout service refused the spec: {exc.reason}") from None
            result.check("rollout started", exc.status, False, exc.reason)
            return result
        rollout_id = str(answer.get("id") or "")
        if not rollout_id:
            result.check("rollout started", "no id", False, f"unexpected answer {answer!r}")
            return result
        log(f"rollout {rollout_id} of {model} {candidate}: {answer.get('state')}")
        state, last = answer.get("state"), answer
        deadline = started + timeout_s
        while state not in TERMINAL and time.monotonic() < deadline:
            time.sleep(poll_s)  # polling the service's answer, not waiting for a side effect
            try:
                last = api.get(f"/api/v1/rollouts/{quote(rollout_id, safe='')}")
            except ApiError as exc:
                if exc.status != 503:  # unreachable for a while: keep asking until the deadline
                    result.check("rollout readable", exc.status, False, exc.reason)
                    return result
                continue
            if last.get("state") != state:
                log(f"rollout {rollout_id}: {last.get('state')}")
            state = last.get("state")
    finally:
        if client is None:
            api.close()
    result.metrics = {"duration_s": round(time.monotonic() - started, 3)}
    reason = str(last.get("reason") or "")
    if state in TERMINAL:
        result.check(
            "promoted", state, TERMINAL[state], f"rollout {rollout_id}; {reason}".strip("; ")
        )
    else:
        note = f"rollout {rollout_id} still {state} after {timeout_s:g} s"
        result.check("promoted", state, False, note)
    return result
