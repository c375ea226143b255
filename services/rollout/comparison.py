"""The comparison a rollout's analysis runs, made from its stored spec: a canary's step
(its checks on the two arms), or an A/B experiment."""

from __future__ import annotations

from typing import Any

from .canary import Check, Step


class StepComparison:
    """A canary step fed by per-request outcomes (interim: error rate and named metrics)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        analysis = spec["analysis"]
        checks = [
            Check(c["metric"], c["margin"], c.get("tau2"), c.get("higher_is_better", False))
            for c in spec["checks"]
        ]
        self.step = Step(
            checks,
            min_samples=analysis["min_samples"],
            min_duration_s=analysis["min_duration_s"],
            deadline_s=analysis["deadline_s"],
            on_deadline=analysis["on_deadline"],
            alpha=analysis["alpha"],
        )

    def observe(self, arm: str, status: str, latency_ms: float | None, score: float | None):
        self.step.observe("error_rate", arm, 0.0 if status == "OK" else 1.0)

    def observe_metric(self, arm: str, name: str, value: float) -> None:
        self.step.observe(name, arm, value)

    def decide(self, elapsed_s: float):
        return self.step.decide(elapsed_s)

    def snapshot(self) -> dict[str, Any]:
        return {m: {"baseline_n": a, "canary_n": b} for m, a, b in self.step.samples()}


def comparison_for(spec: dict[str, Any]) -> Any:
    if spec["strategy"] == "canary":
        return StepComparison(spec)
    raise ValueError(f"no live analysis for a {spec['strategy']} rollout")
