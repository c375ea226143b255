"""The comparison a rollout's analysis runs, made from its stored spec: a canary's step
(``signals.CanaryAnalysis``: its checks on the two arms), or an A/B experiment. Both take
``observe(arm, status, latency_ms, score)``, ``observe_metric(arm, name, value)``,
``decide(elapsed_s)`` and ``snapshot()``."""

from __future__ import annotations

from typing import Any

from .abtest import Experiment, Guardrail, Metric
from .canary import Check
from .signals import CanaryAnalysis

AB_STREAM_METRICS = ("error_rate", "latency_ms", "score")  # per prediction, by variant
# From a prediction and its feedback: 1 when the label was right; |value - truth|.
QUALITY_METRICS = ("accuracy", "abs_error")


def canary_analysis(spec: dict[str, Any]) -> CanaryAnalysis:
    """A canary step's analysis from the stored spec (``ValueError`` naming a check no
    stream can feed)."""
    analysis = spec["analysis"]
    checks = [
        Check(c["metric"], c["margin"], c.get("tau2"), c.get("higher_is_better", False))
        for c in spec["checks"]
    ]
    return CanaryAnalysis(
        checks,
        metrics=[m["name"] for m in spec.get("feedback_metrics", [])] + list(QUALITY_METRICS),
        min_samples=analysis["min_samples"],
        min_duration_s=analysis["min_duration_s"],
        deadline_s=analysis["deadline_s"],
        on_deadline=analysis["on_deadline"],
        alpha=analysis["alpha"],
    )


class Deadline:
    """An A/B test that reached its deadline without a verdict: concluded, no difference
    shown (the numbers as they stood go with it)."""

    state = "deadline"

    def __init__(self, verdict: Any, deadline_s: float) -> None:
        self.verdict = verdict
        self.reason = (
            f"deadline {deadline_s:g} s reached without a verdict: no difference shown "
            f"at alpha {verdict.alpha:g} ({verdict.reason})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.verdict.to_dict(), "state": "deadline", "reason": self.reason}


class ExperimentComparison:
    """An A/B test fed by the streams: every prediction is an exposure of its variant;
    ``error_rate``, ``latency_ms`` and ``score`` come with it, the feedback metrics
    (a conversion: 1 for the positive label) with the feedback joined to it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        exp, variants = spec["experiment"], spec["variants"]
        p = exp["primary"]
        primary = Metric(p["metric"], p.get("kind", "conversion"), p.get("higher_is_better", True),
                         p.get("mde"))  # fmt: skip
        guardrails = [
            Guardrail(
                g["metric"],
                g["margin"],
                g.get("kind", "mean"),
                g.get("higher_is_better", False),
                g.get("mde"),
            )
            for g in exp.get("guardrails", [])
        ]
        self.experiment = Experiment(
            [v["name"] for v in variants],
            [v["weight"] for v in variants],
            primary,
            guardrails,
            alpha=exp.get("alpha", 0.05),
            min_n=exp.get("min_samples", 100),
        )
        self.deadline_s = float(exp.get("deadline_s", 14 * 86_400))
        self.metrics = {primary.name, *(g.name for g in guardrails)}

    def observe(self, arm: str, status: str, latency_ms: float | None, score: float | None):
        self.experiment.observe_exposure(arm)
        for name, value in (("error_rate", 0.0 if status == "OK" else 1.0),
                            ("latency_ms", latency_ms), ("score", score)):  # fmt: skip
            if name in self.metrics and value is not None:
                self.experiment.observe(arm, name, float(value))

    def observe_metric(self, arm: str, name: str, value: float) -> None:
        if name in self.metrics:
            self.experiment.observe(arm, name, value)

    def decide(self, elapsed_s: float) -> Any:
        verdict = self.experiment.verdict()
        if verdict.state == "running" and elapsed_s >= self.deadline_s:
            return Deadline(verdict, self.deadline_s)
        return verdict

    def snapshot(self) -> dict[str, Any]:
        return self.experiment.verdict().to_dict()


def comparison_for(spec: dict[str, Any]) -> Any:
    if spec["strategy"] == "canary":
        return canary_analysis(spec)
    if spec["strategy"] == "ab":
        return ExperimentComparison(spec)
    raise ValueError(f"no live analysis for a {spec['strategy']} rollout")
