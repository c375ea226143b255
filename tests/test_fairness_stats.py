"""fairness statistics: the intervals against published values, and the verdicts' promise
(small groups never alarm; fair streams almost never do; biased ones do)."""

from __future__ import annotations

import random

import pytest

from services.fairness.config import FairnessSettings
from services.fairness.measures import assess
from services.fairness.stats import newcombe, ratio, wilson, z_value

Z95 = z_value(0.95)


def rounded(values, digits: int = 4) -> list[float]:
    return [round(v, digits) for v in values]


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (Wilson).
        (81, 263, [0.2553, 0.3662]),
        (15, 148, [0.0624, 0.1605]),
        (0, 20, [0.0, 0.1611]),
        (1, 29, [0.0061, 0.1718]),
        (0, 10, [0.0, 0.2775]),
    ],
)
def test_wilson_interval_matches_published_values(k: int, n: int, expected) -> None:
    assert rounded(wilson(k, n, Z95)) == expected


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10.
        ((56, 70, 48, 80), [0.0524, 0.3339]),
        ((9, 10, 3, 10), [0.1705, 0.8090]),
        ((10, 10, 0, 20), [0.6791, 1.0]),
        ((10, 10, 0, 10), [0.6075, 1.0]),
        ((0, 10, 0, 20), [-0.1611, 0.2775]),
    ],
)
def test_newcombe_difference_interval_matches_published_values(counts, expected) -> None:
    difference, low, high = newcombe(*counts, Z95)
    assert difference == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert rounded((low, high)) == expected


def test_katz_ratio_interval_matches_scipy_documentation() -> None:
    # scipy.stats.contingency.relative_risk(27, 122, 44, 487).confidence_interval()
    value, low, high = ratio(27, 122, 44, 487, Z95)
    assert round(value, 4) == 2.4495
    assert (low, high) == pytest.approx((1.5836990926700116, 3.7886786315466354), rel=1e-6)


def test_ratio_with_a_zero_cell_stays_finite_and_without_selections_is_undefined() -> None:
    value, low, high = ratio(0, 50, 25, 50, Z95)
    assert value == 0.0 and 0.0 < low < high < 0.4
    assert ratio(5, 50, 0, 50, Z95) is None  # the reference selects nobody: no ratio


def test_bonferroni_widens_with_the_number_of_comparisons() -> None:
    assert round(Z95, 6) == 1.959964
    assert z_value(0.95, comparisons=3) == pytest.approx(2.393980, abs=1e-6)
    assert z_value(0.95, comparisons=10) > z_value(0.95, comparisons=3)


def settings(**changes) -> FairnessSettings:
    return FairnessSettings(**{"min_group_size": 30, **changes})


def test_small_groups_give_no_verdict_however_large_the_gap() -> None:
    counts = {"a": [20, 20, 0, 0, 0, 0], "b": [20, 0, 0, 0, 0, 0]}
    result = assess(counts, settings(), "gender")
    assert result.disparate_impact is None and result.parity_difference is None
    assert set(result.verdicts().values()) == {None}
    assert [g.eligible for g in result.groups] == [False, False]


def test_a_gap_inside_the_interval_is_no_breach_at_the_minimum_size() -> None:
    # 30 per group, rates 0.5 and 0.35: the ratio 0.7 is below 0.8, the evidence is not.
    counts = {"a": [30, 15, 0, 0, 0, 0], "b": [30, 10, 0, 0, 0, 0]}
    result = assess(counts, settings(), "gender")
    assert result.disparate_impact.value < 0.8
    assert result.disparate_impact.high > 0.8
    assert result.verdicts()["disparate_impact"] is False


def test_a_clear_gap_breaches_the_four_fifths_rule_and_parity() -> None:
    counts = {"m": [500, 300, 0, 0, 0, 0], "f": [500, 150, 0, 0, 0, 0]}
    result = assess(counts, settings(), "gender")
    assert result.reference == "m"
    di, dpd = result.disparate_impact, result.parity_difference
    assert di.value == pytest.approx(0.5) and di.high < 0.8 and di.breached
    assert dpd.value == pytest.approx(0.3) and dpd.low > 0.1 and dpd.breached
    assert di.compared == "f vs m"


def test_a_configured_reference_group_is_the_one_compared_against() -> None:
    counts = {"m": [500, 150, 0, 0, 0, 0], "f": [500, 300, 0, 0, 0, 0], "x": [500, 140, 0, 0, 0, 0]}
    result = assess(counts, settings(reference={"gender": "m"}), "gender")
    assert result.reference == "m"
    # Against m (0.30), x (0.28) is the worst: no breach although f is twice as often chosen.
    assert result.disparate_impact.compared == "x vs m"
    assert result.disparate_impact.breached is False
    too_small = {"m": [10, 5, 0, 0, 0, 0], "f": [500, 300, 0, 0, 0, 0], "x": [500, 140, 0, 0, 0, 0]}
    assert assess(too_small, settings(reference={"gender": "m"}), "gender").disparate_impact is None


def test_equal_opportunity_and_equalized_odds_from_labels() -> None:
    # n, selected, positives, true positives, negatives, false positives
    counts = {"a": [400, 200, 200, 180, 200, 20], "b": [400, 120, 200, 100, 200, 20]}
    result = assess(counts, settings(), "gender")
    eo, eodds = result.equal_opportunity, result.equalized_odds
    assert eo.value == pytest.approx(0.4) and eo.breached and eo.compared == "b vs a"
    assert eodds.value == pytest.approx(0.4) and eodds.breached  # the TPR gap dominates
    same_tpr = {"a": [400, 200, 200, 180, 200, 20], "b": [400, 210, 200, 176, 200, 34]}
    fair = assess(same_tpr, settings(), "gender")
    assert fair.equal_opportunity.breached is False and fair.equalized_odds.breached is False
    no_negatives = {"a": [400, 200, 200, 180, 5, 1], "b": [400, 120, 200, 100, 5, 1]}
    assert assess(no_negatives, settings(), "gender").equalized_odds.breached  # TPR alone


def test_a_threshold_set_to_null_reports_without_verdict() -> None:
    counts = {"m": [500, 300, 0, 0, 0, 0], "f": [500, 150, 0, 0, 0, 0]}
    result = assess(counts, settings(disparate_impact=None), "gender")
    assert result.disparate_impact.value == pytest.approx(0.5)
    assert result.verdicts()["disparate_impact"] is None
    assert result.verdicts()["parity_difference"] is True


def simulate(rates: dict[str, float], n: int, windows: int, seed: int) -> int:
    """Windows (of ``n`` decisions per group) in which disparate impact breaches."""
    rng = random.Random(seed)
    breaches = 0
    for _ in range(windows):
        counts = {
            g: [n, sum(rng.random() < p for _ in range(n)), 0, 0, 0, 0] for g, p in rates.items()
        }
        breaches += bool(assess(counts, settings(), "attr").verdicts()["disparate_impact"])
    return breaches


def test_fair_streams_rarely_breach_in_a_window_even_with_small_groups() -> None:
    # Four groups at the minimum size: 6 pairs a window. A breach needs the whole interval
    # below 0.8: well under 1 % of windows; ``for: 2`` (the default) squares that.
    fair = {"a": 0.4, "b": 0.4, "c": 0.4, "d": 0.4}
    assert simulate(fair, n=30, windows=500, seed=7) <= 5
    assert simulate({"a": 0.4, "b": 0.4}, n=200, windows=500, seed=5) == 0
    # Right at the line (true ratio 0.8): about the designed error rate, 2.5 %; 75 in
    # 2,000 leaves 3.5 standard deviations for sampling.
    borderline = {"a": 0.5, "b": 0.4}
    assert simulate(borderline, n=200, windows=2000, seed=3) <= 75


def test_biased_streams_of_moderate_size_are_caught() -> None:
    assert simulate({"a": 0.6, "b": 0.3}, n=200, windows=50, seed=11) == 50
