"""Traffic of inference services, for the demo and the benchmarks.

Each model has a latency distribution that looks like production: a lognormal body, a
small share of slow requests (cache misses, retries) and a base error rate. A scenario
can degrade one model version for a while (latency x N, more errors), then let it recover.

>>> import random
>>> fraud = ModelProfile("fraud", "3.2.0", median_ms=8.0, sigma=0.5)
>>> rng = random.Random(1)
>>> sorted(round(fraud.latency(rng), 1) for _ in range(5))  # one took the slow path
[5.3, 6.3, 14.7, 14.8, 277.9]
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from watchkeeper.sdk import Emitter


@dataclass(frozen=True)
class ModelProfile:
    model: str
    version: str
    median_ms: float
    sigma: float = 0.5
    slow_share: float = 0.01  # requests that take the slow path
    slow_ms: float = 250.0
    error_rate: float = 0.002
    region: str = "eu-west-1"

    def latency(self, rng: random.Random, factor: float = 1.0) -> float:
        if rng.random() < self.slow_share:
            return self.slow_ms * factor * rng.uniform(0.8, 1.5)
        return rng.lognormvariate(0.0, self.sigma) * self.median_ms * factor


@dataclass
class Degradation:
    """Between ``start_s`` and ``end_s`` of a run, one model gets slower and fails more."""

    model: str
    start_s: float
    end_s: float
    latency_factor: float = 20.0
    error_rate: float = 0.15

    def active(self, elapsed_s: float) -> bool:
        return self.start_s <= elapsed_s < self.end_s


@dataclass(frozen=True)
class Build:
    """How a version behaves when it serves (a canary's degraded build, say)."""

    latency_factor: float = 1.0
    error_rate: float | None = None  # None: the profile's


@dataclass
class Simulator:
    """``routed`` models ask the SDK which version serves each user (``emitter.assign``,
    sticky per user, following the rollout's split); ``builds`` say how a version other
    than the profile's behaves."""

    emitter: Emitter
    profiles: list[ModelProfile]
    rate_per_s: float = 300.0  # per model
    degradation: Degradation | None = None
    seed: int = 7
    routed: frozenset[str] = frozenset()
    builds: dict[tuple[str, str], Build] = field(default_factory=dict)
    sent: int = 0
    first_degraded_at: float | None = None  # wall time of the first degraded event
    served: dict[tuple[str, str], int] = field(default_factory=dict)  # (model, version)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def emit_one(self, profile: ModelProfile, elapsed_s: float) -> None:
        degraded = (
            self.degradation is not None
            and self.degradation.model == profile.model
            and self.degradation.active(elapsed_s)
        )
        factor = self.degradation.latency_factor if degraded else 1.0
        error_rate = self.degradation.error_rate if degraded else profile.error_rate
        user = f"user-{self.rng.randrange(100_000)}"
        assignment = None
        if profile.model in self.routed:
            assignment = self.emitter.assign(profile.model, user, default_version=profile.version)
            build = self.builds.get((profile.model, assignment.version or ""))
            if build is not None and not degraded:
                factor = build.latency_factor
                if build.error_rate is not None:
                    error_rate = build.error_rate
        version = assignment.version if assignment else profile.version
        key = (profile.model, version or "")
        self.served[key] = self.served.get(key, 0) + 1
        failed = self.rng.random() < error_rate
        amount = self.rng.expovariate(1 / 80.0)
        if degraded and self.first_degraded_at is None:
            self.first_degraded_at = time.time()
        placed = {"assignment": assignment} if assignment else {"version": profile.version}
        self.emitter.prediction(
            model=profile.model,
            **placed,
            user_id=user,
            region=profile.region,
            latency_ms=profile.latency(self.rng, factor),
            status="ERROR" if failed else "OK",
            error_type="UpstreamError" if failed else None,
            label="fraud" if amount > 300 else "legit",
            score=self.rng.random(),
            num_features={"amount": amount, "items": float(self.rng.randint(1, 9))},
            cat_features={"channel": self.rng.choice(("web", "app", "pos"))},
        )
        self.sent += 1

    def run_for(self, seconds: float, start: float, on_second=None) -> None:
        """Emit at ``rate_per_s`` per model for ``seconds``, paced against ``start``."""
        period = 1.0 / self.rate_per_s
        end = time.monotonic() + seconds
        next_at = time.monotonic()
        next_report = time.monotonic() + 1.0
        while (now := time.monotonic()) < end:
            if now < next_at:
                time.sleep(min(next_at - now, 0.05))
                continue
            elapsed = time.monotonic() - start
            for profile in self.profiles:
                self.emit_one(profile, elapsed)
            next_at += period
            if on_second is not None and now >= next_report:
                next_report += 1.0
                on_second(elapsed)
