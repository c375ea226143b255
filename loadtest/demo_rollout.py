"""The demo's canary: fraud 3.3.0, a build that fails more and is slower, rolled out in
steps beside the champion 3.2.0. Every request asks the SDK which version serves its
user; the rollout service compares the two on the stream and rolls the canary back, the
reason recorded and an alert through the router to whoever is on call."""

from __future__ import annotations

from watchkeeper.clients import RegistryClient
from watchkeeper.control.client import ApiError, Client

from . import demo_registry
from .simulator import Build

MODEL, BASELINE, CANDIDATE = "fraud", "3.2.0", "3.3.0"
BUILD = Build(latency_factor=2.5, error_rate=0.08)  # the degraded build
TOKEN = demo_registry.TOKEN
TOKENS = f"demo admin {TOKEN}"
SPEC = {
    "model": MODEL,
    "strategy": "canary",
    "baseline": BASELINE,
    "candidate": CANDIDATE,
    "steps": [10, 25, 50, 100],
    "checks": [
        {"metric": "error_rate", "margin": 0.01},
        {"metric": "latency_p99", "margin": 0.02},
    ],
    "analysis": {"min_samples": 150, "deadline_s": 60},
    "reason": "demo: the new fraud build",
}


def register_candidate(registry_url: str) -> None:
    with RegistryClient(registry_url, TOKEN) as rc:
        rc.register_version(
            MODEL,
            CANDIDATE,
            artifact_uri=f"s3://demo/models/fraud/{CANDIDATE}",
            metrics={"auc": 0.92},
            idempotency_key="demo-version-fraud-3.3.0",
        )


def start_canary(rollout_url: str) -> str:
    with Client(rollout_url, TOKEN) as c:
        return c.write("POST", "/api/v1/rollouts", SPEC, idempotency_key="demo-canary")["id"]


def status(rollout_url: str, rid: str) -> dict:
    try:
        with Client(rollout_url, TOKEN, retries=0) as c:
            return c.get(f"/api/v1/rollouts/{rid}")
    except ApiError:
        return {}


def live(rollout: dict) -> str:
    if not rollout:
        return "canary ?"
    state = rollout["state"]
    if state in ("progressing", "paused"):
        return f"canary {CANDIDATE} {rollout['steps'][rollout['step']]:g}% {state}"
    return f"canary {CANDIDATE} {state}"


def summary_lines(rollout: dict, alert_delivered: bool) -> list[str]:
    if not rollout:
        return ["  canary                  no rollout state"]
    lines = [f"  canary {rollout['id']}          {BASELINE} -> {CANDIDATE}: {rollout['state']}"]
    back = rollout.get("rollback")
    if back:
        took = (rollout["ended_ms"] - rollout["created_ms"]) / 1000
        weight = rollout["steps"][back["step"]]
        lines.append(f"    rolled back at step {back['step']} ({weight:g} %) after {took:.1f} s")
        lines.append(f"    reason: {back['reason']}")
        lines.append(
            "    alert RolloutRolledBack "
            + ("delivered to on-call" if alert_delivered else "NOT delivered")
        )
    return lines
