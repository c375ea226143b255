"""``gate rollout``'s side of the contract with the rollout service (POST the spec with an
Idempotency-Key, poll until a terminal state), over an in-process transport. The real
service is the lead's chain test (tests/test_gate_chain.py, TODO there)."""

from __future__ import annotations

import json

import httpx
import pytest

from watchkeeper.control.client import Client
from watchkeeper.gates.report import UsageError
from watchkeeper.gates.rollout import load_spec, rollout

SPEC = {"model": "fraud", "strategy": "canary", "baseline": "1", "candidate": "2",
        "steps": [{"weight": 10}, {"weight": 50}], "checks": []}  # fmt: skip


def service(states: list[dict], seen: list[httpx.Request], create_status: int = 201):
    """Answers the POST with the first state, each GET with the next one."""
    answers = iter(states)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            if create_status >= 400:
                return httpx.Response(create_status, json={"error": "steps: weights must rise"})
            return httpx.Response(create_status, json={"id": "r-1", **next(answers)})
        assert request.url.path == "/api/v1/rollouts/r-1"
        return httpx.Response(200, json={"id": "r-1", **next(answers)})

    return Client("http://rollout", "tok", transport=httpx.MockTransport(handle))


def test_promoted_passes_after_polling_the_states() -> None:
    seen: list[httpx.Request] = []
    api = service([{"state": "pending"}, {"state": "progressing"}, {"state": "promoted"}], seen)
    logged: list[str] = []
    result = rollout("http://rollout", SPEC, poll_s=0, client=api, idempotency_key="job-7",
                     log=lambda *a, **k: logged.append(a[0]))  # fmt: skip
    assert result.passed and (result.model, result.version) == ("fraud", "2")
    assert [r.method for r in seen] == ["POST", "GET", "GET"]
    assert seen[0].headers["Idempotency-Key"] == "job-7"
    assert seen[0].headers["Authorization"] == "Bearer tok"
    assert json.loads(seen[0].content) == SPEC
    assert logged == ["rollout r-1 of fraud 2: pending", "rollout r-1: progressing",
                      "rollout r-1: promoted"]  # fmt: skip


@pytest.mark.parametrize("state", ["rolled_back", "aborted"])
def test_rolled_back_or_aborted_fails_with_the_reason(state) -> None:
    api = service([{"state": "progressing"}, {"state": state, "reason": "error rate 4%"}], [])
    result = rollout("http://rollout", SPEC, poll_s=0, client=api, log=lambda *a, **k: None)
    assert not result.passed
    assert result.failures() == [f"promoted: {state} (rollout r-1; error rate 4%)"]


def test_still_running_at_the_timeout_fails() -> None:
    api = service([{"state": "progressing"}] * 1000, [])
    result = rollout("http://rollout", SPEC, timeout_s=0, client=api, log=lambda *a, **k: None)
    assert result.failures() == ["promoted: progressing (rollout r-1 still progressing after 0 s)"]


def test_a_refused_spec_is_bad_input_and_a_conflict_a_failure(tmp_path) -> None:
    with pytest.raises(UsageError, match="refused the spec: steps: weights must rise"):
        rollout("http://rollout", SPEC, client=service([], [], 400), log=lambda *a, **k: None)
    result = rollout("http://rollout", SPEC, client=service([], [], 409), log=lambda *a, **k: None)
    assert result.failures() == ["rollout started: 409 (steps: weights must rise)"]
    spec = tmp_path / "r.yaml"
    spec.write_text("model: fraud\ncandidate: '2'\nsteps: [{weight: 10}]\n")
    assert load_spec(spec) == {"model": "fraud", "candidate": "2", "steps": [{"weight": 10}]}
