"""Fairness of one protected attribute in one window: the measures and their verdicts.

Per group *g* of the attribute (counts of the window):

============================ ==========================================================
selection rate               selected_g / n_g  (favourable decisions)
true positive rate (TPR)     favourable decisions among those who deserved one (labels)
false positive rate (FPR)    favourable decisions among those who did not
============================ ==========================================================

Across groups, between the **reference** group (configured per attribute, else the group
with the highest selection rate, as the four-fifths rule has it) and each other group:

================================= ======================================================
disparate impact                  rate_g / rate_ref, the lowest one; Katz log interval
demographic parity difference     rate_ref - rate_g, the largest one; Newcombe interval
equal opportunity difference      max TPR - min TPR; Newcombe interval
equalized odds difference         max of the TPR and the FPR differences
================================= ======================================================

**No verdict without evidence.** Only groups with at least ``min_group_size`` events (for
TPR: actual positives; for FPR: actual negatives) take part; with fewer than two such
groups the measure is reported as insufficient. A measure **breaches** only when its whole
confidence interval is on the wrong side of the threshold (disparate impact: the upper
bound below 0.8; a difference: the lower bound above 0.1), with the error rate split over
the comparisons made (Bonferroni). A fair stream therefore raises an alert with
probability at most (1 - confidence) / 2 per window even when its true value sits right at
the threshold, and much less when it is truly fair.

>>> from .config import FairnessSettings
>>> counts = {"a": [1000, 600, 0, 0, 0, 0], "b": [1000, 300, 0, 0, 0, 0], "c": [12, 0, 0, 0, 0, 0]}
>>> result = assess(counts, FairnessSettings(), "gender")
>>> result.reference, [g.group for g in result.groups if g.eligible]
('a', ['a', 'b'])
>>> di = result.disparate_impact
>>> round(di.value, 2), round(di.low, 3), round(di.high, 3), di.breached
(0.5, 0.449, 0.557, True)
>>> result.equal_opportunity is None      # no labels yet: insufficient, not "fair"
True
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import FairnessSettings
from .stats import newcombe, ratio, wilson, z_value

# Per group: n, selected, actual positives, true positives, actual negatives, false positives
N, SELECTED, POSITIVES, TRUE_POSITIVES, NEGATIVES, FALSE_POSITIVES = range(6)


@dataclass(frozen=True)
class GroupStats:
    group: str
    counts: list[int]
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    eligible: bool
    tpr: float | None
    fpr: float | None


@dataclass(frozen=True)
class Measure:
    value: float
    low: float
    high: float
    compared: str  # "<group> vs <reference>"
    threshold: float | None
    breached: bool


@dataclass(frozen=True)
class Assessment:
    attribute: str
    groups: list[GroupStats]
    reference: str | None
    disparate_impact: Measure | None
    parity_difference: Measure | None
    equal_opportunity: Measure | None
    equalized_odds: Measure | None

    def verdicts(self) -> dict[str, bool | None]:
        """Per measure (setting name): breached, not breached, or None (no verdict)."""
        return {
            name: (None if m is None or m.threshold is None else m.breached)
            for name, m in (
                ("disparate_impact", self.disparate_impact),
                ("parity_difference", self.parity_difference),
                ("equal_opportunity", self.equal_opportunity),
                ("equalized_odds", self.equalized_odds),
            )
        }


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def _pairs(k: int) -> int:
    return k * (k - 1) // 2


def assess(counts: dict[str, list[int]], settings: FairnessSettings, attribute: str) -> Assessment:
    minimum = settings.min_group_size
    z_single = z_value(settings.confidence)
    groups = []
    for group in sorted(counts):
        row = counts[group]
        n = row[N]
        low, high = wilson(row[SELECTED], n, z_single) if n else (None, None)
        groups.append(
            GroupStats(
                group,
                row,
                _rate(row[SELECTED], n),
                low,
                high,
                n >= minimum,
                _rate(row[TRUE_POSITIVES], row[POSITIVES]),
                _rate(row[FALSE_POSITIVES], row[NEGATIVES]),
            )
        )
    eligible = [g for g in groups if g.eligible]
    reference, di, dpd = _selection(eligible, settings, attribute)
    eo, eodds = _error_rates(groups, settings)
    return Assessment(attribute, groups, reference, di, dpd, eo, eodds)


def _selection(
    eligible: list[GroupStats], settings: FairnessSettings, attribute: str
) -> tuple[str | None, Measure | None, Measure | None]:
    if len(eligible) < 2:
        return None, None, None
    configured = settings.reference.get(attribute)
    if configured is not None:
        ref = next((g for g in eligible if g.group == configured), None)
        if ref is None:  # the reference group itself is too small: no comparison
            return configured, None, None
        comparisons = len(eligible) - 1
    else:
        ref = max(eligible, key=lambda g: (g.rate, g.group))
        # The reference was picked from the data: any pair could have been compared.
        comparisons = _pairs(len(eligible))
    z = z_value(settings.confidence, comparisons)
    kr, nr = ref.counts[SELECTED], ref.counts[N]
    worst_ratio: Measure | None = None
    worst_diff: Measure | None = None
    for g in eligible:
        if g is ref:
            continue
        k, n = g.counts[SELECTED], g.counts[N]
        compared = f"{g.group} vs {ref.group}"
        found = ratio(k, n, kr, nr, z)
        if found is not None and (worst_ratio is None or found[0] < worst_ratio.value):
            limit = settings.disparate_impact
            worst_ratio = Measure(*found, compared, limit, limit is not None and found[2] < limit)
        d, low, high = newcombe(kr, nr, k, n, z)
        if worst_diff is None or d > worst_diff.value:
            limit = settings.parity_difference
            worst_diff = Measure(d, low, high, compared, limit, limit is not None and low > limit)
    return ref.group, worst_ratio, worst_diff


def _spread(
    groups: list[GroupStats], hits: int, total: int, minimum: int, z: float, limit: float | None
) -> Measure | None:
    """The largest gap of one rate (hits / total) between two groups with enough data."""
    able = [g for g in groups if g.counts[total] >= minimum]
    if len(able) < 2:
        return None
    high_g = max(able, key=lambda g: (g.counts[hits] / g.counts[total], g.group))
    low_g = min(able, key=lambda g: (g.counts[hits] / g.counts[total], g.group))
    d, low, high = newcombe(
        high_g.counts[hits], high_g.counts[total], low_g.counts[hits], low_g.counts[total], z
    )
    breached = limit is not None and low > limit
    return Measure(d, low, high, f"{low_g.group} vs {high_g.group}", limit, breached)


def _error_rates(
    groups: list[GroupStats], settings: FairnessSettings
) -> tuple[Measure | None, Measure | None]:
    minimum = settings.min_group_size
    with_pos = sum(1 for g in groups if g.counts[POSITIVES] >= minimum)
    with_neg = sum(1 for g in groups if g.counts[NEGATIVES] >= minimum)
    z_tpr = z_value(settings.confidence, _pairs(with_pos))
    eo = _spread(groups, TRUE_POSITIVES, POSITIVES, minimum, z_tpr, settings.equal_opportunity)
    # Equalized odds looks at both rates: the error rate is split over both sets of pairs.
    z_both = z_value(settings.confidence, _pairs(with_pos) + _pairs(with_neg))
    limit = settings.equalized_odds
    tpr = _spread(groups, TRUE_POSITIVES, POSITIVES, minimum, z_both, limit)
    fpr = _spread(groups, FALSE_POSITIVES, NEGATIVES, minimum, z_both, limit)
    parts = [m for m in (tpr, fpr) if m is not None]
    if not parts:
        return eo, None
    larger = max(parts, key=lambda m: m.value)
    breached = any(m.breached for m in parts)
    eodds = Measure(larger.value, larger.low, larger.high, larger.compared, limit, breached)
    return eo, eodds
