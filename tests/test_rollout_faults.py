"""kill -9 of the rollout service mid-step: it resumes the same step (its clock kept),
and the promotion happens once (one alias move in the registry's history)."""

from __future__ import annotations

import pytest

from watchkeeper.devstack import ServiceProcess

from .helpers import wait_for
from .registry_support import TOKEN_TABLE, TOKENS, client
from .rollout_support import CANARY, Traffic, api, registry_with, wait_state

pytestmark = pytest.mark.kafka


def test_kill_9_mid_step_resumes_the_step_and_promotes_once(
    start_service, kafka_bootstrap, kafka_settings, prefix, tmp_path
):
    registry = registry_with(start_service, prefix, tmp_path, "fraud", "1", "2")
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "WK_TOPIC_PREFIX": prefix,
        "WK_ROLLOUT_API_TOKENS": TOKEN_TABLE,
        "WK_ROLLOUT_REGISTRY_URL": registry.url,
        "WK_ROLLOUT_REGISTRY_TOKEN": TOKENS["writer"],
        "WK_ROLLOUT_TICK_S": "0.2",
    }
    rollout = ServiceProcess("services.rollout", env, tmp_path / "rollout.log", restart=True)
    try:
        rollout.wait_healthy()
        spec = {
            **CANARY,
            "steps": [20, 50, 100],
            "analysis": {"min_samples": 3000, "deadline_s": 300},
        }
        api(rollout).write("POST", "/api/v1/rollouts", spec)
        reader = api(rollout, "reader")
        with Traffic(kafka_settings, prefix, "fraud", {"1": 0.01, "2": 0.01}):
            before = wait_for(
                lambda: (
                    (r := reader.get("/api/v1/rollouts/fraud-1"))["analysis"]
                    and r["analysis"]["checks"]["error_rate"]["n"]["canary"] > 200
                    and r
                ),
                60,
                "evidence in step 0",
            )
            assert before["step"] == 0
            rollout.kill()
            rollout.wait_healthy(120)
            after = reader.get("/api/v1/rollouts/fraud-1")
            assert (after["step"], after["step_started_ms"]) == (0, before["step_started_ms"])
            assert after["state"] == "progressing"
            done = wait_state(rollout, "fraud-1")
        assert done["state"] == "promoted"
        assert [e["event"] for e in done["timeline"]] == [
            "created",
            "advanced",
            "passed",
            "promoted",
        ]
        assert len(rollout.restarts) == 1
        moves = [
            e
            for e in client(registry, "reader").history("model", "fraud")["events"]
            if e["type"] == "alias.set" and e["data"]["version"] == "2"
        ]
        assert len(moves) == 1
    finally:
        rollout.stop()
