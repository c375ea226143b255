"""The whole retraining loop, live: drift -> retrain request -> a real trainer -> candidate
registered, validated and approved by policy -> canary -> promoted.

Shared by ``make demo-loop`` (:mod:`loadtest.demo_loop`, a live line per second) and
``make bench BENCH=retrain`` (:mod:`loadtest.bench_retrain`, figures only). The fraud
model's traffic is routed by the SDK (``emitter.assign``), so once the rollout starts the
candidate serves its share; every prediction gets its label as feedback (by event_id),
which is what the trainer (``loadtest/retrain_job.py``) learns from. After ``HEALTHY_S``
the ``amount`` feature's distribution shifts (mean 80 -> 400) and the drift service asks
for a retrain.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchkeeper.clients import RegistryClient
from watchkeeper.control.client import ApiError, Client
from watchkeeper.devstack import ServiceProcess, print_restart
from watchkeeper.ports import free_port
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

MODEL, CHAMPION = "fraud", "1"
TOKEN = "loop-admin-token-0123456789"
TOKENS = f"loop admin {TOKEN}"
HEALTHY_S = 15.0
RATE_PER_S = 200.0
DEADLINE_S = 240.0  # from the drift to an ended run
ENDED = ("promoted", "rolled_back", "failed", "rejected", "cancelled", "expired")

# Small windows so the drift fires within seconds; the first 1,000 events of a version
# are its reference.
DRIFT_CONFIG = """
defaults:
  window: 500
  step: 250
  min_samples: 250
  reference_events: 1000
  detector: none
  concept_detector: adwin
models:
  fraud:
    positive_label: fraud
"""
# Registry: the champion alias gated on a passed validation and a better auc.
REGISTRY_POLICY = """
defaults:
  gated_aliases: [champion]
  require_validation: true
  compare: {}
models:
  fraud:
    compare: {auc: higher}
"""
RETRAIN_POLICY = """
defaults: {{debounce_s: 2, cooldown_s: 10}}
models:
  fraud:
    launcher:
      kind: local
      command: [{python}, -m, loadtest.retrain_job]
      timeout_s: 120
      env: {{WK_RETRAIN_MAX_EVENTS: "3000", WK_RETRAIN_ARTIFACTS: "{artifacts}"}}
    validation:
      holdout: "{artifacts}/{{run_id}}/holdout.csv"
      label_column: label
      candidate_scores: candidate_score
      thresholds: {{min: {{auc: 0.7}}}}
    approval: {{mode: auto, margin: {{}}}}
    rollout:
      strategy: canary
      steps: [50, 100]
      checks: [{{metric: error_rate, margin: 0.02}}]
      analysis: {{min_samples: 200, deadline_s: 60}}
"""


@dataclass
class Stack:
    drift: ServiceProcess
    registry: ServiceProcess
    rollout: ServiceProcess
    retrain: ServiceProcess

    @property
    def services(self) -> list[ServiceProcess]:
        return [self.drift, self.registry, self.rollout, self.retrain]


def supervised(module: str, env: dict[str, str], log_path: Path) -> ServiceProcess:
    """Restarted after a backoff if it exits, as a container runtime would."""
    return ServiceProcess(module, env, log_path, restart=True, on_restart=print_restart)


def start(bootstrap: str, prefix: str, tmp: Path) -> Stack:
    artifacts = tmp / "artifacts"
    (tmp / "drift.yaml").write_text(DRIFT_CONFIG)
    (tmp / "registry.yaml").write_text(REGISTRY_POLICY)
    (tmp / "retrain.yaml").write_text(
        RETRAIN_POLICY.format(python=sys.executable, artifacts=artifacts)
    )
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "WK_TOPIC_PREFIX": prefix}
    registry_url = f"http://127.0.0.1:{(registry_port := free_port())}"
    rollout_url = f"http://127.0.0.1:{(rollout_port := free_port())}"
    retrain_port = free_port()
    return Stack(
        drift=supervised(
            "services.drift",
            {**env, "WK_DRIFT_CONFIG": str(tmp / "drift.yaml"), "WK_INSTANCE_ID": "loop-drift"},
            tmp / "drift.log",
        ),
        registry=supervised(
            "services.registry",
            {
                **env,
                "WK_REGISTRY_API_TOKENS": TOKENS,
                "WK_REGISTRY_POLICY": str(tmp / "registry.yaml"),
                "WK_HTTP_PORT": str(registry_port),
            },
            tmp / "registry.log",
        ),
        rollout=supervised(
            "services.rollout",
            {
                **env,
                "WK_ROLLOUT_API_TOKENS": TOKENS,
                "WK_ROLLOUT_REGISTRY_URL": registry_url,
                "WK_ROLLOUT_REGISTRY_TOKEN": TOKEN,
                "WK_ROLLOUT_TICK_S": "0.5",
                "WK_HTTP_PORT": str(rollout_port),
            },
            tmp / "rollout.log",
        ),
        retrain=supervised(
            "services.retrain",
            {
                **env,
                "WK_HTTP_PORT": str(retrain_port),
                "WK_RETRAIN_POLICY": str(tmp / "retrain.yaml"),
                "WK_RETRAIN_API_TOKENS": TOKENS,
                "WK_RETRAIN_CALLBACK_SECRET": "loop-callback-secret-0123456789",
                "WK_RETRAIN_PUBLIC_URL": f"http://127.0.0.1:{retrain_port}",
                "WK_RETRAIN_TICK_S": "0.2",
                "WK_RETRAIN_STATE_DIR": str(tmp / "runs"),
                "WK_RETRAIN_REGISTRY_URL": registry_url,
                "WK_RETRAIN_REGISTRY_TOKEN": TOKEN,
                "WK_RETRAIN_ROLLOUT_URL": rollout_url,
                "WK_RETRAIN_ROLLOUT_TOKEN": TOKEN,
            },
            tmp / "retrain.log",
        ),
    )


def seed(registry_url: str) -> None:
    """fraud 1, validated, as the champion; its auc (0.6) is what a candidate must beat."""
    with RegistryClient(registry_url, TOKEN) as rc:
        rc.create_model(MODEL, owner_team="loop", idempotency_key="loop-model")
        rc.register_version(MODEL, CHAMPION, artifact_uri="file:///models/fraud/1.pkl",
                            metrics={"auc": 0.6}, idempotency_key="loop-version")  # fmt: skip
        rc.record_validation(MODEL, CHAMPION, passed=True, metrics={"auc": 0.6},
                             idempotency_key="loop-validation")  # fmt: skip
        rc.set_alias(MODEL, "champion", CHAMPION, reason="seed", idempotency_key="loop-alias")


def is_fraud(amount: float, rng: random.Random) -> bool:
    """The truth: fraud gets likelier with the amount (logistic around 300, some noise).

    >>> rng = random.Random(1)
    >>> [sum(is_fraud(a, rng) for _ in range(1000)) for a in (50, 300, 600)]
    [1, 504, 1000]
    """
    return rng.random() < 1 / (1 + math.exp(-(amount - 300) / 40))


@dataclass
class Traffic:
    """Fraud predictions routed by the SDK, each followed by its label (feedback)."""

    emitter: Emitter
    seed: int = 11
    sent: int = 0
    drifted_at: float | None = None  # wall time of the first drifted event
    served: dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def emit_one(self, drifted: bool) -> None:
        user = f"user-{self.rng.randrange(100_000)}"
        assignment = self.emitter.assign(MODEL, user, default_version=CHAMPION)
        version = assignment.version or CHAMPION
        self.served[version] = self.served.get(version, 0) + 1
        amount = self.rng.expovariate(1 / (400.0 if drifted else 80.0))
        if drifted and self.drifted_at is None:
            self.drifted_at = time.time()
        truth = is_fraud(amount, self.rng)
        event_id = self.emitter.prediction(
            assignment=assignment,
            user_id=user,
            latency_ms=self.rng.lognormvariate(math.log(8.0), 0.4),
            label="fraud" if amount > 300 else "legit",
            score=min(1.0, amount / 600),
            num_features={"amount": amount, "items": float(self.rng.randint(1, 9))},
            cat_features={"channel": self.rng.choice(("web", "app", "pos"))},
        )
        self.emitter.feedback(event_id=event_id, model=MODEL, version=version,
                              label="fraud" if truth else "legit")  # fmt: skip
        self.sent += 1


def runs(retrain_url: str) -> list[dict]:
    try:
        with Client(retrain_url, TOKEN, retries=0) as c:
            return c.get("/api/v1/runs", model=MODEL)["runs"]
    except (ApiError, OSError):
        return []


def rollout_state(rollout_url: str) -> dict:
    """The newest rollout of fraud, or {} before there is one."""
    try:
        with Client(rollout_url, TOKEN, retries=0) as c:
            found = c.get("/api/v1/rollouts", model=MODEL)
    except (ApiError, OSError):
        return {}
    items = found.get("rollouts", found) if isinstance(found, dict) else found
    return items[0] if items else {}


def live_line(elapsed: float, traffic: Traffic, run: dict | None, rollout: dict) -> str:
    phase = "drifted" if traffic.drifted_at is not None else "healthy"
    served = ", ".join(f"{v}: {n:,}" for v, n in sorted(traffic.served.items()))
    parts = [f"{elapsed:3.0f}s {phase:<8}", f"sent {traffic.sent:,} ({served})"]
    parts.append(f"run {run['id']} {run['state']}" if run else "run -")
    if rollout:
        state = rollout.get("state", "?")
        if state in ("progressing", "paused") and rollout.get("steps"):
            state = f"{rollout['steps'][rollout.get('step', 0)]:g}% {state}"
        candidate = (run or {}).get("candidate") or {}
        parts.append(f"rollout {candidate.get('version', '?')} {state}")
    else:
        parts.append("rollout -")
    return " | ".join(parts)


@dataclass
class Outcome:
    run: dict | None
    drifted_at: float | None
    sent: int

    @property
    def promoted(self) -> bool:
        return bool(self.run) and self.run["state"] == "promoted"

    def figures(self) -> dict[str, float]:
        """Seconds between the first drifted event, the run's trigger, the candidate and the
        promotion (only those that happened)."""
        if not self.run or self.drifted_at is None:
            return {}
        at = {e["event"]: e["at_ms"] / 1000 for e in reversed(self.run.get("timeline", []))}
        triggers = self.run.get("triggers") or []
        request = triggers[0].get("at_ms", 0) / 1000 if triggers else 0.0
        request = request or at.get("created")
        marks = {"drift": self.drifted_at, "request": request,
                 "candidate": at.get("candidate"), "promoted": at.get("promoted")}  # fmt: skip
        out = {}
        for name, (a, b) in {
            "drift_to_request_s": ("drift", "request"),
            "request_to_candidate_s": ("request", "candidate"),
            "candidate_to_promoted_s": ("candidate", "promoted"),
            "drift_to_promotion_s": ("drift", "promoted"),
        }.items():
            if marks[a] is not None and marks[b] is not None:
                out[name] = round(marks[b] - marks[a], 3)
        return out


def play(
    settings: KafkaSettings,
    prefix: str,
    stack: Stack,
    on_second: Callable[[str], None] | None = None,
) -> Outcome:
    """Healthy traffic for HEALTHY_S, then drifted traffic until fraud's run ends (or
    DEADLINE_S); ``on_second`` gets the live line."""
    emitter = Emitter(settings, prefix=prefix, client_id="loop-traffic")
    traffic = Traffic(emitter)
    emitter.wait_for_routing(10)
    begin = time.monotonic()
    period = 1.0 / RATE_PER_S
    next_at, next_report = begin, begin + 1.0
    run: dict | None = None
    try:
        while (now := time.monotonic()) - begin < HEALTHY_S + DEADLINE_S:
            if now >= next_report:
                next_report += 1.0
                found = runs(stack.retrain.url)
                run = found[0] if found else None
                if on_second is not None:
                    rollout = rollout_state(stack.rollout.url)
                    on_second(live_line(now - begin, traffic, run, rollout))
                if run and run["state"] in ENDED:
                    break
            if now < next_at:
                time.sleep(min(next_at - now, 0.05))
                continue
            traffic.emit_one(drifted=now - begin >= HEALTHY_S)
            next_at += period
    finally:
        emitter.close(timeout=10)
    if run is not None:
        with Client(stack.retrain.url, TOKEN) as c:
            run = c.get(f"/api/v1/runs/{run['id']}")
    return Outcome(run, traffic.drifted_at, traffic.sent)
