"""A rollout spec checked and completed (Kafka-free): what the API refuses with a reason,
the defaults it fills in, and the traffic split each state of a rollout stands for.

>>> spec = plan({"model": "fraud", "strategy": "canary", "baseline": "3.1", "candidate": "3.2",
...              "steps": [5, 25, 100]})
>>> spec["analysis"]["deadline_s"], [c["metric"] for c in spec["checks"]]
(900.0, ['error_rate', 'latency_p99'])
>>> spec["steps"], [(v.name, v.weight) for v in canary_split(spec, 1, "fraud-1").variants]
([5.0, 25.0], [('baseline', 75.0), ('canary', 25.0)])
>>> plan({"model": "fraud", "strategy": "canary", "baseline": "3.1", "candidate": "3.2",
...       "steps": [50, 20]})
Traceback (most recent call last):
...
watchkeeper.control.commands.Rejected: steps must rise: 20 after 50
>>> plan({"model": "fraud", "strategy": "canary", "baseline": "3.1", "candidate": "3.2",
...       "checks": [{"metric": "clicks", "margin": 1}]})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
watchkeeper.control.commands.Rejected: checks: a check on a metric nobody emits: 'clicks' (...)
"""

from __future__ import annotations

from typing import Any

from watchkeeper.control import Rejected
from watchkeeper.sdk._assignment import Split, SplitError, Variant

from .comparison import (
    AB_STREAM_METRICS,
    QUALITY_METRICS,
    ExperimentComparison,
    canary_analysis,
)

DEFAULT_STEPS = [1.0, 5.0, 25.0, 50.0, 100.0]
DEFAULT_CHECKS = [
    {"metric": "error_rate", "margin": 0.01},  # one point more errors than the baseline
    {"metric": "latency_p99", "margin": 0.02},  # two points more requests over its p99
]
DEFAULT_ANALYSIS = {
    "min_samples": 200,
    "min_duration_s": 0.0,
    "deadline_s": 900.0,
    "on_deadline": "rollback",
    "alpha": 0.05,
}
TERMINAL = ("promoted", "rolled_back", "aborted", "completed", "concluded", "stopped")


def plan(body: dict[str, Any]) -> dict[str, Any]:
    """The rollout's stored spec; :class:`Rejected` (400) naming what is wrong."""
    strategy = body["strategy"]
    spec: dict[str, Any] = {
        "model": body["model"],
        "strategy": strategy,
        "alias": body.get("alias", "champion"),
        "hooks": body.get("hooks", []),
        "reason": body.get("reason", ""),
    }
    names = [h["name"] for h in spec["hooks"]]
    if len(set(names)) != len(names):
        raise Rejected(400, f"hooks: names repeat: {names}")
    if strategy in ("canary", "bluegreen"):
        for field in ("baseline", "candidate"):
            if field not in body:
                raise Rejected(400, f"a {strategy} rollout needs {field!r}")
        if body["baseline"] == body["candidate"]:
            raise Rejected(400, "baseline and candidate are the same version")
        spec["baseline"], spec["candidate"] = body["baseline"], body["candidate"]
    if strategy == "canary":
        spec["steps"] = _steps(body.get("steps", DEFAULT_STEPS))
        spec["feedback_metrics"] = body.get("feedback_metrics", [])
        spec["checks"] = _checks(body.get("checks", DEFAULT_CHECKS))
        spec["analysis"] = {**DEFAULT_ANALYSIS, **body.get("analysis", {})}
        spec["analysis"]["deadline_s"] = float(spec["analysis"]["deadline_s"])
        try:  # what the analysis itself refuses
            canary_analysis(spec)
        except ValueError as exc:
            raise Rejected(400, f"checks: {exc}") from exc
    elif strategy == "bluegreen":
        spec["keep_ready_s"] = float(body.get("keep_ready_s", 3600.0))
    else:
        spec.update(_experiment(body))
    return spec


def _steps(steps: list[float]) -> list[float]:
    """The analysed steps. 100 % may end the list: it is the promotion itself (at 100 %
    no baseline traffic is left to compare with), so it is not a step of its own."""
    out: list[float] = []
    for weight in steps:
        if not 0 < weight <= 100:
            raise Rejected(
                400, f"steps: a weight is a percent above 0 and at most 100, not {weight:g}"
            )
        if out and weight <= out[-1]:
            raise Rejected(400, f"steps must rise: {weight:g} after {out[-1]:g}")
        out.append(float(weight))
    if out[-1] == 100.0:
        out.pop()
    if not out:
        raise Rejected(400, "steps: a canary needs a step below 100 % (100 % is the promotion)")
    return out


def _checks(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks as stored; which metrics a stream carries is the analysis' to say (the
    spec is built into one before it is accepted)."""
    if not checks:
        raise Rejected(400, "checks: a canary needs at least one check")
    seen = set()
    for check in checks:
        if check["metric"] in seen:
            raise Rejected(400, f"checks: {check['metric']} is checked twice")
        seen.add(check["metric"])
    # Accuracy is the one built-in metric where higher is better: said unless told.
    return [
        {"higher_is_better": True, **c} if c["metric"] == "accuracy" else dict(c) for c in checks
    ]


def _experiment(body: dict[str, Any]) -> dict[str, Any]:
    variants = body.get("variants")
    if not variants:
        raise Rejected(400, "an ab test needs 'variants' (the first is the control)")
    if "experiment" not in body:
        raise Rejected(400, "an ab test needs 'experiment' (its primary metric)")
    try:
        Split(body["model"], tuple(Variant(v["name"], v["version"], v["weight"]) for v in variants))
    except SplitError as exc:
        raise Rejected(400, f"variants: {exc}") from exc
    feedback = body.get("feedback_metrics", [])
    experiment = dict(body["experiment"])
    known = set(AB_STREAM_METRICS) | set(QUALITY_METRICS) | {m["name"] for m in feedback}
    for field, name in [("primary", experiment["primary"]["metric"])] + [
        ("guardrails", g["metric"]) for g in experiment.get("guardrails", [])
    ]:
        if name not in known:
            raise Rejected(
                400,
                f"experiment.{field}: no stream carries a metric {name!r} (known: "
                f"{', '.join(AB_STREAM_METRICS)}, and feedback_metrics by name)",
            )
    try:  # what the experiment itself refuses (a mean metric without its mde, ...)
        ExperimentComparison({"experiment": experiment, "variants": variants})
    except ValueError as exc:
        raise Rejected(400, f"experiment: {exc}") from exc
    return {
        "variants": [dict(v) for v in variants],
        "experiment": experiment,
        "feedback_metrics": feedback,
    }


# -- the split each state stands for ------------------------------------------------------


def single(model: str, version: str, rollout: str) -> Split:
    return Split(model, (Variant("default", version, 100.0),), rollout, rollout)


def canary_split(spec: dict[str, Any], step: int, rollout: str) -> Split:
    weight = spec["steps"][step]
    variants = (
        Variant("baseline", spec["baseline"], 100.0 - weight),
        Variant("canary", spec["candidate"], weight),
    )
    return Split(spec["model"], variants, rollout, rollout)


def bluegreen_split(spec: dict[str, Any], active: str, rollout: str) -> Split:
    versions = {"blue": spec["baseline"], "green": spec["candidate"]}
    variants = tuple(
        Variant(color, versions[color], 100.0 if color == active else 0.0)
        for color in ("blue", "green")
    )
    return Split(spec["model"], variants, rollout, rollout)


def experiment_split(spec: dict[str, Any], rollout: str) -> Split:
    variants = tuple(Variant(v["name"], v["version"], v["weight"]) for v in spec["variants"])
    return Split(spec["model"], variants, rollout, rollout)
