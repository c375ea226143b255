"""The drift quality evaluation's stream builders and scoring, on small inputs with known
answers. Evidently is never imported here: it is installed for the benchmark only."""

from __future__ import annotations

import doctest
import statistics

import pytest

from loadtest import drift_quality as q


def test_the_module_examples_hold():
    result = doctest.testmod(q)
    assert result.failed == 0 and result.attempted >= 6


# -- scoring ---------------------------------------------------------------------------


def test_rising_edges_count_once_per_run_of_drifted_verdicts():
    states = [(0, set()), (1, {"a"}), (2, {"a"}), (3, {"a", "b"}), (4, set()), (5, {"a"})]
    assert q.rising_edges(states) == [(1, "a"), (3, "b"), (5, "a")]


def test_delay_counts_the_new_events_seen_at_the_first_verdict():
    states = [(999, frozenset()), (1249, frozenset({"loan"}))]
    outcome = q.score(states, drift_at=1000, drifted={"loan"}, quiet_until=1000, deadline=6000)
    assert outcome == q.Outcome(delay=250, missed=False, false_alarms=0)


def test_a_verdict_at_the_drift_point_itself_is_a_delay_of_one():
    outcome = q.score([(1000, {"x"})], 1000, {"x"}, 1000, 6000)
    assert outcome.delay == 1


def test_firings_on_other_features_do_not_count_as_detection():
    states = [(1100, {"salary"}), (1200, {"salary", q.DATASET})]
    outcome = q.score(states, 1000, {"loan"}, 1000, 6000)
    assert outcome == q.Outcome(delay=None, missed=True, false_alarms=0)


def test_no_verdict_before_the_deadline_is_a_miss():
    outcome = q.score([(6000, {"loan"})], 1000, {"loan"}, 1000, 6000)
    assert outcome.missed and outcome.delay is None


def test_firings_before_the_quiet_part_ends_are_false_alarms():
    states = [(10, {"a"}), (20, set()), (30, {"b"}), (1500, {"b", "x"})]
    outcome = q.score(states, 1000, {"x"}, 1000, 6000)
    assert outcome == q.Outcome(delay=501, missed=False, false_alarms=2)


def test_a_key_flagged_through_the_drift_point_is_both_false_alarm_and_detection():
    # Drifted before the drift (false alarm) and still drifted after it (found at once).
    outcome = q.score([(900, {"x"}), (1100, {"x"})], 1000, {"x"}, 1000, 6000)
    assert outcome == q.Outcome(delay=101, missed=False, false_alarms=1)


def test_gradual_drifts_may_be_found_before_their_midpoint():
    quiet_until, deadline = q.bounds(7000, 2000, 20_000)
    outcome = q.score([(3500, {"x"})], 7000, {"x"}, quiet_until, deadline)
    assert outcome.delay == 3500 - 7000 + 1 and not outcome.missed


def test_bounds():
    assert q.bounds(5000, 0, 9000) == (5000, 5000 + q.MISS_BOUND)
    assert q.bounds(7000, 2000, 20_000) == (3000, 9000 + q.MISS_BOUND)
    assert q.bounds(None, 0, 800) == (800, 800)


def test_rates_and_medians():
    assert q.per_100k(0, 400_000) == 0.0
    assert q.per_100k(3, 150_000) == 2.0
    assert q.per_100k(1, 0) == 0.0
    outcomes = [q.Outcome(216, False, 0), q.Outcome(None, True, 0), q.Outcome(466, False, 0)]
    assert q.median_delay(outcomes) == 341.0
    assert q.median_delay([q.Outcome(None, True, 0)]) is None


def test_a_control_stream_counts_every_alarm_as_false():
    stream = q.Stream("control", "control", 1, q.Events(iter(()), 2000))
    run = q.Run(states=[(499, frozenset({"a"})), (749, frozenset()), (999, frozenset({"a"}))])
    assert q.score_stream(stream, run) == q.Outcome(None, False, 2)


# -- streams ---------------------------------------------------------------------------


def first(source, n):
    return q.Events(source, n).upto(n)


def test_the_layout_has_20_numeric_and_5_categorical_features_and_a_prediction():
    (row,) = first(q.Layout(1), 1)
    assert len(q.NUMERIC) == 20 and len(q.CATEGORICAL) == 5
    assert set(row) == {*q.NUMERIC, *q.CATEGORICAL, q.PREDICTION_FEATURE}
    assert all(isinstance(row[name], float) for name in q.NUMERIC)
    assert all(isinstance(row[name], str) for name in (*q.CATEGORICAL, q.PREDICTION_FEATURE))


def test_streams_are_reproducible_and_samples_differ():
    assert first(q.Layout(3, 1), 50) == first(q.Layout(3, 1), 50)
    assert first(q.Layout(3, 1), 50) != first(q.Layout(3, 2), 50)


def test_switch_is_abrupt():
    assert list(q.switch(iter("aaaa"), iter("bbbb"), 3)) == list("aaabbbb")


def test_events_are_drawn_only_as_far_as_read():
    events = q.Events(q.Layout(1), 10_000)
    assert len(events.upto(300)) == 300 and len(events.rows) == 300
    assert events.upto(100) == events.rows[:100]
    assert len(events) == 10_000


def test_a_shift_moves_only_its_feature_from_the_drift_point():
    drift = q.DataDrift("loan", ("loan",), {"change": q.Shift("loan", q.LOAN_SD)})
    stream = q.data_drift_stream(drift, seed=5, gradual=False)
    at = stream.drift_at
    assert q.PRE_DRIFT <= at < q.PRE_DRIFT + q.STEP and stream.drifted == {"loan"}
    assert len(stream.events) == at + q.MISS_BOUND and stream.quiet_until == at
    rows = stream.events.upto(at + 1500)

    def mean(name, part):
        return statistics.fmean(r[name] for r in part)

    before, after = rows[at - 1500 : at], rows[at:]
    assert mean("loan", after) - mean("loan", before) == pytest.approx(q.LOAN_SD, rel=0.2)
    assert abs(mean("salary", after) - mean("salary", before)) < 0.2 * q.SALARY_SD


def test_a_new_category_appears_only_after_the_drift():
    drift = q.DataDrift("car", ("car",), {"change": q.Remap("car", "21", 0.1)})
    stream = q.data_drift_stream(drift, seed=2, gradual=False)
    rows = stream.events.upto(stream.drift_at + 1000)
    assert all(r["car"] != "21" for r in rows[: stream.drift_at])
    share = sum(r["car"] == "21" for r in rows[stream.drift_at :]) / 1000
    assert 0.07 < share < 0.13


def test_a_gradual_drift_mixes_in_the_new_distribution_around_its_midpoint():
    drift = q.DataDrift("loan", ("loan",), {"change": q.Shift("loan", 10 * q.LOAN_SD)})
    stream = q.data_drift_stream(drift, seed=1, gradual=True)
    at, width = stream.drift_at, stream.width
    assert width == q.GRADUAL_WIDTH and stream.quiet_until == at - 2 * width
    rows = stream.events.upto(at + 2 * width)
    big = 500_000 * 1.5  # only the shifted loans exceed Agrawal's range

    def share(lo, hi):
        return sum(r["loan"] > big for r in rows[lo:hi]) / (hi - lo)

    assert share(0, at - 2 * width) < 0.01
    assert 0.35 < share(at - 200, at + 200) < 0.65
    assert share(at + width, at + 2 * width) > 0.9


def test_control_streams_have_no_drift():
    stream = q.control_stream(seed=9, events=1200)
    assert stream.drift_at is None and stream.quiet_until == stream.deadline == 1200


def test_a_concept_drift_raises_the_frozen_models_error_after_the_drift_point():
    sea = next(c for c in q.CONCEPTS if c.name.startswith("SEA 0 -> 3"))
    stream = q.label_stream(sea, seed=1)
    at = stream.drift_at
    assert stream.kind == "abrupt" and len(stream.outcomes) == at + q.MISS_BOUND

    def error(part):
        return sum(p != t for p, t in part) / len(part)

    assert error(stream.outcomes[at:]) > error(stream.outcomes[:at]) + 0.04
    assert abs(error(stream.reference) - error(stream.outcomes[:at])) < 0.02


def test_a_self_drifting_regression_stream_changes_at_its_drift_point():
    friedman = next(c for c in q.CONCEPTS if c.regression)
    stream = q.label_stream(friedman, seed=2)
    at = stream.drift_at

    def mae(part):
        return statistics.fmean(abs(p - t) for p, t in part)

    assert mae(stream.outcomes[at - 1000 : at]) < 1.15 * mae(stream.reference)
    assert mae(stream.outcomes[at : at + 1000]) > 1.5 * mae(stream.reference)
