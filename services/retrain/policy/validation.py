"""A policy's ``validation``: the ``gate validate`` request (watchkeeper/gates/validate.py)
as a mapping, checked with that gate's own rules (known metrics, bounds and gaps; a
champion for relative thresholds; something to check)."""

from __future__ import annotations

from typing import Any

from watchkeeper.gates.fairness import GAPS
from watchkeeper.gates.metrics import HIGHER_IS_BETTER
from watchkeeper.gates.thresholds import KINDS
from watchkeeper.yamlconf import Mapping

from ._read import boolean, keys, mapping, names, number, placeholders, text

HOLDOUT_PLACEHOLDERS = ("model", "candidate", "champion", "run_id")

_VALIDATION_KEYS = (
    "skip", "holdout", "label_column", "candidate_scores", "candidate_predict",
    "champion_scores", "champion_predict", "thresholds", "decision_threshold", "sensitive",
    "max_gaps", "min_impact", "min_group_size", "quality_gate", "unknown_gate",
)  # fmt: skip


def parse(doc: Mapping) -> dict[str, Any] | None:
    """What ``gate validate`` accepts, checked with its own rules; None for ``skip: true``."""
    w = "validation."
    if "skip" in doc:
        if boolean(doc, "skip", w) and len(doc) > 1:
            raise doc.error("skip", "validation: skip: true takes no other keys")
        if doc["skip"]:
            return None
    keys(doc, _VALIDATION_KEYS, "validation: ")
    if "holdout" not in doc:
        raise doc.error(None, "validation needs holdout (a .csv or .jsonl file), or skip: true")
    out: dict[str, Any] = {"holdout": text(doc, "holdout", w), "label_column": "label"}
    problem = placeholders(out["holdout"], HOLDOUT_PLACEHOLDERS)
    if problem:
        raise doc.error("holdout", f"validation.holdout: {problem}")
    for key in ("label_column", "candidate_scores", "candidate_predict", "champion_scores",
                "champion_predict", "sensitive"):  # fmt: skip
        if key in doc:
            out[key] = text(doc, key, w)
    for who in ("candidate", "champion"):
        if f"{who}_scores" in out and f"{who}_predict" in out:
            reason = f"validation: {who}_scores or {who}_predict, not both"
            raise doc.error(f"{who}_predict", reason)
    if "candidate_scores" not in out and "candidate_predict" not in out:
        raise doc.error(None, "validation needs candidate_scores (a column) or "
                              "candidate_predict (module:function)")  # fmt: skip
    out["thresholds"] = _thresholds(doc) if "thresholds" in doc else {}
    relative = [k for k in out["thresholds"] if k.endswith("_delta")]
    if relative and "champion_scores" not in out and "champion_predict" not in out:
        raise doc.error("thresholds", f"validation.thresholds.{relative[0]} compares with the "
                        "champion: give champion_scores or champion_predict")  # fmt: skip
    if "decision_threshold" in doc:
        out["decision_threshold"] = number(doc, "decision_threshold", w, 0.0, True)
        if out["decision_threshold"] >= 1:
            raise doc.error("decision_threshold", "validation.decision_threshold must be below 1")
    if "max_gaps" in doc:
        gaps = mapping(doc, "max_gaps", w)
        for name in gaps:
            if name not in GAPS:
                raise gaps.error(name, f"validation.max_gaps: unknown gap {name!r} "
                                       f"(known: {', '.join(GAPS)})")  # fmt: skip
        out["max_gaps"] = {name: number(gaps, name, "validation.max_gaps.") for name in gaps}
    if "min_impact" in doc:
        out["min_impact"] = number(doc, "min_impact", w)
    if ("max_gaps" in out or "min_impact" in out) and "sensitive" not in out:
        raise doc.error("max_gaps" if "max_gaps" in out else "min_impact",
                        "validation: fairness bounds need sensitive (the column)")  # fmt: skip
    if "min_group_size" in doc:
        size = doc["min_group_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise doc.error("min_group_size", "validation.min_group_size must be a whole number "
                            f"of rows, at least 1, not {size!r}")  # fmt: skip
        out["min_group_size"] = size
    if "quality_gate" in doc:
        out["quality_gates"] = list(names(doc, "quality_gate", w))
    if "unknown_gate" in doc:
        if doc["unknown_gate"] not in ("fail", "pass"):
            raise doc.error("unknown_gate", "validation.unknown_gate must be fail or pass")
        out["unknown_gate"] = doc["unknown_gate"]
    checks = ("thresholds", "max_gaps", "min_impact", "quality_gates")
    if not any(out.get(key) or (key == "min_impact" and key in out) for key in checks):
        raise doc.error(None, "validation: nothing to check: give thresholds, fairness bounds "
                              "(max_gaps, min_impact) or quality_gate")  # fmt: skip
    return out


def _thresholds(doc: Mapping) -> dict[str, dict[str, float]]:
    given = mapping(doc, "thresholds", "validation.")
    out: dict[str, dict[str, float]] = {}
    for kind in given:
        if kind not in KINDS:
            raise given.error(kind, f"validation.thresholds: unknown bound {kind!r} "
                                    f"(use {', '.join(KINDS)})")  # fmt: skip
        bounds = mapping(given, kind, "validation.thresholds.")
        for metric in bounds:
            if metric not in HIGHER_IS_BETTER:
                known = ", ".join(HIGHER_IS_BETTER)
                reason = f"validation.thresholds.{kind}: unknown metric {metric!r} (known: {known})"
                raise bounds.error(metric, reason)
        where = f"validation.thresholds.{kind}."
        out[kind] = {metric: number(bounds, metric, where, float("-inf")) for metric in bounds}
    return out


def validate_request(
    spec: dict[str, Any], model: str, candidate: str, champion: str | None = None, run_id=""
):
    """The ``gate validate`` request of a policy's ``validation`` for one candidate; the
    holdout path's ``{model}``, ``{candidate}``, ``{champion}``, ``{run_id}`` filled in.

    >>> from services.retrain.policy import load_policy_text
    >>> spec = load_policy_text('''
    ... defaults:
    ...   validation:
    ...     holdout: data/{model}/holdout.csv
    ...     candidate_scores: score_new
    ...     champion_scores: score
    ...     thresholds: {min: {auc: 0.8}, min_delta: {auc: 0.0}}
    ... ''').defaults.validation
    >>> r = validate_request(spec, "fraud", "3.3", "3.2")
    >>> str(r.holdout), [t.label for t in r.thresholds]
    ('data/fraud/holdout.csv', ['auc >= 0.8', 'auc - champion >= 0'])
    """
    from pathlib import Path

    from watchkeeper.gates.thresholds import Threshold
    from watchkeeper.gates.validate import Scoring, ValidateRequest

    names = {"model": model, "candidate": candidate, "champion": champion or "", "run_id": run_id}
    return ValidateRequest(
        model=model, candidate=candidate, champion=champion,
        holdout=Path(spec["holdout"].format(**names)), label_column=spec["label_column"],
        candidate_scoring=Scoring(spec.get("candidate_scores"), spec.get("candidate_predict")),
        champion_scoring=Scoring(spec.get("champion_scores"), spec.get("champion_predict")),
        thresholds=[Threshold(metric, kind, bound) for kind in KINDS
                    for metric, bound in spec["thresholds"].get(kind, {}).items()],
        decision_threshold=spec.get("decision_threshold", 0.5), sensitive=spec.get("sensitive"),
        max_gaps=dict(spec.get("max_gaps", {})), min_impact=spec.get("min_impact"),
        min_group_size=spec.get("min_group_size", 30),
        quality_gates=list(spec.get("quality_gates", [])),
        unknown_gate_passes=spec.get("unknown_gate") == "pass",
    )  # fmt: skip
