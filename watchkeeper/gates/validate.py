"""``gate validate``: the candidate against the champion on a holdout file.

Checks, each a row of the report: every threshold (absolute, or the change from the
champion), every fairness bound on the candidate's decisions, and every named quality
gate of the training data being open. Scores come from a column of the holdout
(``--candidate-scores``) or from a function given the rows (``--candidate-predict``);
the same for the champion.

What is recorded (when a registry is given): ``passed``; ``metrics`` with the candidate's
metrics under their own names (the alias gate compares those), ``delta_<metric>`` per
change checked and ``fairness_<gap>`` per fairness measure; ``details``: the failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from . import fairness, holdout, metrics, qualitygate
from .report import GateResult, UsageError
from .thresholds import Threshold


@dataclass
class Scoring:
    """Where one model's scores come from: a column, or module:function."""

    column: str | None = None
    predict: str | None = None

    def given(self) -> bool:
        return bool(self.column or self.predict)

    def scores(self, rows: list[holdout.Row], path: Path, who: str) -> list[float]:
        if self.column and self.predict:
            raise UsageError(f"--{who}-scores or --{who}-predict, not both")
        if self.column:
            return holdout.scores(rows, self.column, path)
        return holdout.predicted(self.predict or "", rows, f"--{who}-predict")


@dataclass
class ValidateRequest:
    model: str
    candidate: str
    holdout: Path
    label_column: str
    candidate_scoring: Scoring
    champion_scoring: Scoring = field(default_factory=Scoring)
    champion: str | None = None
    thresholds: list[Threshold] = field(default_factory=list)
    decision_threshold: float = 0.5
    sensitive: str | None = None
    max_gaps: dict[str, float] = field(default_factory=dict)
    min_impact: float | None = None
    min_group_size: int = 30
    quality_gates: list[str] = field(default_factory=list)
    unknown_gate_passes: bool = False


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


def validate(request: ValidateRequest, gate_states: dict[str, dict] | None = None) -> GateResult:
    """The verdict; ``gate_states`` (gate name -> GateState) when quality gates are named."""
    r = request
    if not r.candidate_scoring.given():
        raise UsageError("give the candidate's scores: --candidate-scores COL or "
                         "--candidate-predict module:function")  # fmt: skip
    relative = [t for t in r.thresholds if t.relative]
    if relative and not r.champion_scoring.given():
        raise UsageError(f"{relative[0].label} compares with the champion: give "
                         "--champion-scores COL or --champion-predict module:function")  # fmt: skip
    if (r.max_gaps or r.min_impact is not None) and not r.sensitive:
        raise UsageError("fairness bounds need --sensitive COLUMN")
    if not (r.thresholds or r.max_gaps or r.min_impact is not None or r.quality_gates):
        raise UsageError("nothing to check: give thresholds (--min, --min-delta, ... or "
                         "--thresholds FILE), fairness bounds or --quality-gate")  # fmt: skip
    rows = holdout.read_rows(r.holdout)
    labels = holdout.labels(rows, r.label_column, r.holdout)
    candidate_scores = r.candidate_scoring.scores(rows, r.holdout, "candidate")
    mine = metrics.compute(labels, candidate_scores, r.decision_threshold)
    theirs = None
    if r.champion_scoring.given():
        theirs = metrics.compute(labels, r.champion_scoring.scores(rows, r.holdout, "champion"),
                                 r.decision_threshold)  # fmt: skip
    result = GateResult("validate", r.model, r.candidate)
    result.metrics = {k: v for k, v in mine.items() if v is not None and math.isfinite(v)}
    result.metrics["holdout_rows"] = float(len(rows))
    champion = f"champion {r.champion}" if r.champion else "champion"
    for t in r.thresholds:
        value = mine[t.metric]
        if t.relative:
            other = theirs[t.metric] if theirs else None
            if value is None or other is None:
                result.check(t.label, None, False, f"{t.metric} undefined on this holdout")
                continue
            delta = value - other
            result.metrics[f"delta_{t.metric}"] = delta
            result.check(t.label, delta, t.holds(value, other),
                         f"{_fmt(value)} vs {_fmt(other)} of {champion}")  # fmt: skip
        elif value is None:
            result.check(t.label, None, False, f"{t.metric} undefined (one class only?)")
        else:
            result.check(t.label, value, t.holds(value))
    if r.sensitive:
        _fairness(r, rows, labels, candidate_scores, result)
    for name in r.quality_gates:
        ok, why = qualitygate.verdict((gate_states or {}).get(name), r.unknown_gate_passes)
        result.check(f"quality gate {name} open", "open" if ok else "closed", ok, why)
    return result


def _fairness(r: ValidateRequest, rows, labels, scores, result: GateResult) -> None:
    chosen = [1 if s >= r.decision_threshold else 0 for s in scores]
    groups = holdout.groups(rows, r.sensitive or "", r.holdout)
    gaps = fairness.assess_gaps(labels, chosen, groups, r.max_gaps, r.min_impact,
                                r.min_group_size)  # fmt: skip
    for gap in gaps:
        if gap.value is None:
            result.check(gap.label, None, False, gap.compared)
            continue
        result.metrics[f"fairness_{gap.name}"] = gap.value
        note = f"{gap.compared}; 95% [{gap.low:.3g}, {gap.high:.3g}]"
        result.check(gap.label, gap.value, gap.passed, note)
