"""Fairness of the candidate's decisions on the holdout, measured by the fairness
service's own statistics (``services.fairness.measures.assess``): the same measures,
groups and intervals as the production monitor.

A gate judges the **point** value against the bound (a model whose holdout gap is past
the bound does not ship); the interval is reported beside it. Fewer than two groups with
``min_group_size`` rows each is no evidence, and fails.

>>> y      = [1, 1, 0, 0] * 10 + [1, 1, 0, 0] * 10
>>> chosen = [1, 1, 0, 0] * 10 + [1, 0, 0, 0] * 10   # group b: half its positives missed
>>> group  = ["a"] * 40 + ["b"] * 40
>>> for gap in assess_gaps(y, chosen, group, {"tpr": 0.1}, None, min_group_size=20):
...     print(gap.name, round(gap.value, 2), gap.compared, gap.passed)
tpr 0.5 b vs a False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .report import UsageError

# --max-gap name -> the fairness service's measure
GAPS = {
    "parity": "parity_difference",  # selection-rate difference
    "tpr": "equal_opportunity",  # true-positive-rate difference
    "odds": "equalized_odds",  # the larger of the TPR and FPR differences
}


@dataclass(frozen=True)
class Gap:
    name: str
    value: float | None
    low: float | None
    high: float | None
    compared: str
    bound: float
    passed: bool

    @property
    def label(self) -> str:
        if self.name == "impact":
            return f"disparate impact >= {self.bound:g}"
        return f"{self.name} gap <= {self.bound:g}"


def parse_gaps(items: list[str] | None) -> dict[str, float]:
    found = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep or name not in GAPS:
            raise UsageError(f"--max-gap {item!r}: expected NAME=number, NAME one of "
                             f"{', '.join(GAPS)}")  # fmt: skip
        try:
            found[name] = float(text)
        except ValueError:
            raise UsageError(f"--max-gap {item!r}: {text!r} is not a number") from None
    return found


def _counts(labels: Sequence[int], chosen: Sequence[int], group: Sequence[str]):
    counts: dict[str, list[int]] = {}
    for y, d, g in zip(labels, chosen, group, strict=True):
        # n, selected, actual positives, true positives, actual negatives, false positives
        row = counts.setdefault(g, [0, 0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += d
        row[2] += y
        row[3] += y and d
        row[4] += 1 - y
        row[5] += (1 - y) and d
    return counts


def assess_gaps(
    labels: Sequence[int],
    chosen: Sequence[int],
    group: Sequence[str],
    max_gaps: dict[str, float],
    min_impact: float | None,
    min_group_size: int = 30,
    confidence: float = 0.95,
) -> list[Gap]:
    from services.fairness.config import FairnessSettings
    from services.fairness.measures import assess

    settings = FairnessSettings(min_group_size=min_group_size, confidence=confidence)
    assessment = assess(_counts(labels, chosen, group), settings, "holdout")
    wanted = [(name, GAPS[name], bound) for name, bound in max_gaps.items()]
    if min_impact is not None:
        wanted.append(("impact", "disparate_impact", min_impact))
    found = []
    for name, measure_name, bound in wanted:
        m = getattr(assessment, measure_name)
        if m is None:
            why = f"fewer than two groups with {min_group_size} rows to compare"
            found.append(Gap(name, None, None, None, why, bound, False))
            continue
        ok = m.value >= bound if name == "impact" else m.value <= bound
        found.append(Gap(name, m.value, m.low, m.high, m.compared, bound, ok))
    return found
