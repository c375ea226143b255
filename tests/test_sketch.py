"""DDSketch (services/slo/sketch.py) against exact quantiles, and its algebra. No Kafka."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable

import pytest

from services.slo.sketch import DEFAULT_MAX_BUCKETS, DDSketch

N = 100_000
QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999, 1.0)
# 1 %, plus room for float rounding when a value sits exactly on a bucket edge.
TOLERANCE = 0.01 + 1e-12


def exact_quantile(ordered: list[float], q: float) -> float:
    """Lower nearest rank: the definition the sketch approximates."""
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def relative_error(estimate: float, exact: float) -> float:
    return abs(estimate - exact) / exact


def sketch_of(values: list[float], **kwargs: float) -> DDSketch:
    sketch = DDSketch(**kwargs)
    for value in values:
        sketch.add(value)
    return sketch


def _bimodal(rng: random.Random) -> float:
    # cache hits around 1 ms, misses around 800 ms
    if rng.random() < 0.85:
        return rng.lognormvariate(math.log(1.0), 0.3)
    return rng.lognormvariate(math.log(800.0), 0.25)


DISTRIBUTIONS: dict[str, Callable[[random.Random], float]] = {
    "lognormal-0.5": lambda rng: rng.lognormvariate(math.log(40.0), 0.5),
    "lognormal-1.5": lambda rng: rng.lognormvariate(math.log(40.0), 1.5),
    "pareto-1.2": lambda rng: 5.0 * rng.paretovariate(1.2),
    "exponential": lambda rng: rng.expovariate(1 / 120.0),
    "bimodal": _bimodal,
    "uniform-int": lambda rng: float(rng.randint(1, 5_000)),
    "constant": lambda rng: 42.0,
}


def sample(name: str, n: int = N, seed: int = 2024) -> list[float]:
    rng = random.Random(seed)
    draw = DISTRIBUTIONS[name]
    return [draw(rng) for _ in range(n)]


def log_uniform(low: float, high: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    a, b = math.log(low), math.log(high)
    return [math.exp(rng.uniform(a, b)) for _ in range(n)]


# -- accuracy --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_quantiles_within_one_percent_of_exact(name: str) -> None:
    values = sample(name)
    sketch = sketch_of(values)
    ordered = sorted(values)
    errors = {q: relative_error(sketch.quantile(q), exact_quantile(ordered, q)) for q in QUANTILES}
    assert max(errors.values()) <= TOLERANCE, errors
    assert sketch.count == N
    assert sketch.min == ordered[0]
    assert sketch.max == ordered[-1]
    assert relative_error(sketch.quantile(0.0), ordered[0]) <= TOLERANCE
    assert math.isclose(sketch.sum, math.fsum(values), rel_tol=1e-9)


def test_quantile_definition_is_lower_nearest_rank() -> None:
    # Neighbours 50 % apart: any other rank rule (upper, interpolated) lands elsewhere.
    values = [1.5**i for i in range(40)]
    random.Random(1).shuffle(values)
    sketch = sketch_of(values)
    ordered = sorted(values)
    for step in range(201):
        q = step / 200
        expected = exact_quantile(ordered, q)
        assert relative_error(sketch.quantile(q), expected) <= TOLERANCE, (q, expected)


def test_constant_stream_is_answered_exactly() -> None:
    sketch = sketch_of([42.0] * 1_000)
    # One bucket, clamped to the exact min and max.
    assert [sketch.quantile(q) for q in (0.0, 0.5, 0.99, 1.0)] == [42.0] * 4
    assert len(sketch.to_dict()["c"]) == 1


def test_add_many_equals_add_one_by_one() -> None:
    values = [*sample("pareto-1.2", 20_000), 0.0, 1e-12, *sample("bimodal", 20_000)]
    batch = DDSketch()
    batch.add_many(values)
    single = sketch_of(values)
    assert batch == single
    # The same additions in the same order: the sums agree to the bit.
    assert batch.sum == single.sum


def test_values_at_the_ends_of_the_float_range() -> None:
    huge = sketch_of([1e308, 1.5e308, 1.7e308])
    # The top bucket's value may be above the largest float: clamped to the exact max.
    assert relative_error(huge.quantile(1.0), 1.7e308) <= TOLERANCE
    assert huge.quantile(1.0) <= 1.7e308
    assert relative_error(huge.quantile(0.5), 1.5e308) <= TOLERANCE
    tiny = sketch_of([2e-9, 3e-9, 1e-3])
    assert relative_error(tiny.quantile(0.0), 2e-9) <= TOLERANCE
    assert relative_error(tiny.quantile(0.5), 3e-9) <= TOLERANCE


def test_zero_bucket_holds_zero_and_tiny_values() -> None:
    sketch = sketch_of([0.0, 1e-12, 1e-9, 5.0])
    state = sketch.to_dict()
    assert state["z"] == 3
    assert sum(state["c"]) == 1
    assert sketch.quantile(0.5) == 0.0
    assert sketch.quantile(0.75) == 0.0
    assert relative_error(sketch.quantile(0.76), 5.0) <= TOLERANCE


# -- bounded storage -------------------------------------------------------------------


def test_bucket_bound_on_latencies_from_1e_3_to_1e9() -> None:
    values = log_uniform(1e-3, 1e9, N, seed=11)
    ordered = sorted(values)
    sketch = sketch_of(values)
    # 12 decades need about 1 380 buckets at 1 %: within the default bound, no folding.
    assert len(sketch.to_dict()["c"]) <= DEFAULT_MAX_BUCKETS
    for q in (0.001, 0.01, 0.5, 0.99, 0.999):
        assert relative_error(sketch.quantile(q), exact_quantile(ordered, q)) <= TOLERANCE, q


def test_collapse_folds_lowest_buckets_and_keeps_the_tail() -> None:
    values = log_uniform(1e-3, 1e9, N, seed=11)
    ordered = sorted(values)
    # 1 024 buckets end about 12 decades below the largest value, 1e9: what is below ~1.3
    # folds into one bucket.
    small = sketch_of(values, max_buckets=1024)
    assert len(small.to_dict()["c"]) == 1024
    for q in (0.5, 0.9, 0.99, 0.999, 1.0):
        assert relative_error(small.quantile(q), exact_quantile(ordered, q)) <= TOLERANCE, q
    # The folded low end is overstated: that is the price of the bound.
    assert small.quantile(0.01) > exact_quantile(ordered, 0.01) * 1.5
    assert small.min == ordered[0]


def test_default_bound_holds_beyond_its_span() -> None:
    values = log_uniform(1e-8, 1e12, 50_000, seed=5)
    sketch = sketch_of(values)
    assert len(sketch.to_dict()["c"]) == DEFAULT_MAX_BUCKETS
    ordered = sorted(values)
    assert relative_error(sketch.quantile(0.99), exact_quantile(ordered, 0.99)) <= TOLERANCE


@pytest.mark.parametrize("max_buckets", [DEFAULT_MAX_BUCKETS, 64])
def test_collapsed_buckets_do_not_depend_on_order(max_buckets: int) -> None:
    values = log_uniform(1e-3, 1e6, 5_000, seed=3)
    ascending = sketch_of(sorted(values), max_buckets=max_buckets)
    descending = sketch_of(sorted(values, reverse=True), max_buckets=max_buckets)
    shuffled = sketch_of(values, max_buckets=max_buckets)
    assert ascending == descending == shuffled


# -- merge and subtract ----------------------------------------------------------------


@pytest.mark.parametrize("max_buckets", [DEFAULT_MAX_BUCKETS, 64])
def test_merge_equals_sketch_of_concatenation(max_buckets: int) -> None:
    # Parts with different ranges, so merging widens the list on both sides.
    parts = [
        sample("bimodal", 10_000, seed=1),
        sample("pareto-1.2", 10_000, seed=2),
        log_uniform(1e-4, 1e-1, 3_000, seed=3) + [0.0] * 7,
    ]
    merged = DDSketch(max_buckets=max_buckets)
    for part in parts:
        merged.merge(sketch_of(part, max_buckets=max_buckets))
    whole = sketch_of([v for part in parts for v in part], max_buckets=max_buckets)
    assert merged.to_dict()["c"] == whole.to_dict()["c"]
    assert merged == whole
    reverse = DDSketch(max_buckets=max_buckets)
    for part in reversed(parts):
        reverse.merge(sketch_of(part, max_buckets=max_buckets))
    assert reverse == whole


def test_merge_with_itself_doubles_counts() -> None:
    sketch = sketch_of([1.0, 2.0, 3.0])
    sketch.merge(sketch)
    assert sketch == sketch_of([1.0, 2.0, 3.0] * 2)


def test_merge_refuses_other_accuracy() -> None:
    with pytest.raises(ValueError, match="relative accuracies differ"):
        DDSketch(0.01).merge(sketch_of([1.0], relative_accuracy=0.02))


def _windows(seed: int) -> list[list[float]]:
    return [sample("lognormal-1.5", 5_000, seed=seed + i) for i in range(6)]


def test_subtract_undoes_merge_for_a_rolling_view() -> None:
    windows = _windows(seed=40)
    view = DDSketch()
    for window in windows:
        view.merge(sketch_of(window))
    for leaving in range(3):
        view.subtract(sketch_of(windows[leaving]))
        remaining = [v for window in windows[leaving + 1 :] for v in window]
        expected = sketch_of(remaining)
        assert view.to_dict()["c"] == expected.to_dict()["c"]
        assert view.to_dict()["o"] == expected.to_dict()["o"]
        assert view.count == expected.count
        assert math.isclose(view.sum, expected.sum, rel_tol=1e-9)
        ordered = sorted(remaining)
        for q in (0.5, 0.95, 0.99):
            assert view.quantile(q) == expected.quantile(q)
            assert relative_error(view.quantile(q), exact_quantile(ordered, q)) <= TOLERANCE
        # min and max are bounds now: never inside the data, at most one bucket off.
        gamma = 1.01 / 0.99
        assert ordered[0] / gamma <= view.min <= ordered[0]
        assert ordered[-1] <= view.max <= ordered[-1] * gamma


def test_subtract_of_a_sketch_strictly_inside_restores_exactly() -> None:
    base = sketch_of([0.5, 3.0, 7.0, 900.0])
    inner = sketch_of([2.0, 4.0, 100.0])
    view = base.copy()
    view.merge(inner)
    view.subtract(inner)
    # inner's min and max were strictly inside: base's exact min and max survive.
    assert view == base
    assert (view.min, view.max) == (0.5, 900.0)


def test_subtract_that_takes_the_max_keeps_an_upper_bound() -> None:
    base = sketch_of([10.0, 20.0, 30.0])
    spike = sketch_of([5_000.0])
    view = base.copy()
    view.merge(spike)
    view.subtract(spike)
    assert view.count == 3
    assert 30.0 <= view.max <= 30.0 * 1.0203
    assert view.max != 5_000.0
    # The bound is for max; quantiles keep their 1 %.
    assert relative_error(view.quantile(1.0), 30.0) <= TOLERANCE


def test_subtract_everything_leaves_an_empty_sketch() -> None:
    window = sketch_of([*sample("exponential", 1_000), 0.0])
    view = DDSketch()
    view.merge(window)
    view.subtract(window)
    assert view == DDSketch()
    assert view.sum == 0.0
    assert view.quantile(0.5) is None


@pytest.mark.parametrize(
    "stranger",
    [
        [1_000_000.0],  # above anything in the view
        [10.0, 10.0, 10.0],  # more than the view holds in that bucket
        [0.0],  # the view has no zero bucket
        [float(i) for i in range(1, 50)],  # more values than the view
    ],
)
def test_subtract_of_a_sketch_never_merged_in_raises_and_changes_nothing(
    stranger: list[float],
) -> None:
    view = sketch_of([10.0, 20.0, 30.0, 40.0])
    before = view.copy()
    with pytest.raises(ValueError, match="not merged"):
        view.subtract(sketch_of(stranger))
    assert view == before
    assert view.to_dict() == before.to_dict()


def test_subtract_of_empty_changes_nothing() -> None:
    view = sketch_of([1.0, 2.0])
    before = view.to_dict()
    view.subtract(DDSketch())
    assert view.to_dict() == before


def test_subtract_takes_folded_windows_out_of_the_folded_bucket() -> None:
    # A view whose low end was folded by a later window can still drop the early one.
    early = sketch_of(log_uniform(1e-3, 1.0, 2_000, seed=8), max_buckets=128)
    late = sketch_of(log_uniform(1e3, 1e5, 2_000, seed=9), max_buckets=128)
    view = DDSketch(max_buckets=128)
    view.merge(early)
    view.merge(late)
    view.subtract(early)
    assert view.to_dict()["c"] == late.to_dict()["c"]
    assert view.count == late.count


# -- state -----------------------------------------------------------------------------


def test_json_round_trip_is_exact() -> None:
    sketch = sketch_of([*sample("lognormal-1.5", 20_000), 0.0])
    text = json.dumps(sketch.to_dict(), separators=(",", ":"))
    again = DDSketch.from_dict(json.loads(text))
    assert again == sketch
    assert again.to_dict() == sketch.to_dict()
    assert again.sum == sketch.sum
    assert [again.quantile(q) for q in QUANTILES] == [sketch.quantile(q) for q in QUANTILES]
    # Compact: a few bytes per bucket, nothing per value.
    assert len(text) < 5 * len(sketch.to_dict()["c"]) + 200
    # A restored sketch goes on counting like the original.
    again.add(123.0)
    sketch.add(123.0)
    assert again == sketch


def test_empty_sketch() -> None:
    sketch = DDSketch()
    assert sketch.count == 0
    assert sketch.sum == 0.0
    assert sketch.min is None
    assert sketch.max is None
    assert sketch.quantile(0.0) is None
    assert sketch.quantile(1.0) is None
    state = sketch.to_dict()
    assert state["c"] == [] and state["mn"] is None and state["mx"] is None
    assert json.loads(json.dumps(state, allow_nan=False)) == state
    assert DDSketch.from_dict(state) == sketch
    sketch.merge(DDSketch())
    assert sketch == DDSketch()


def test_copy_is_independent() -> None:
    sketch = sketch_of([1.0, 2.0])
    clone = sketch.copy()
    clone.add(500.0)
    assert sketch.count == 2
    assert sketch.max == 2.0
    assert clone != sketch


@pytest.mark.parametrize(
    "change",
    [
        {"n": 99},
        {"c": [1, -1, 1]},
        {"c": [0, 1]},
        {"c": [1.5]},
        {"a": 1.5},
        {"mn": None},
        {"mn": 5.0, "mx": 1.0},
        {"s": "many"},
        {"s": math.nan},
    ],
)
def test_from_dict_rejects_inconsistent_state(change: dict) -> None:
    state = sketch_of([1.0, 2.0, 3.0]).to_dict()
    state.update(change)
    with pytest.raises(ValueError):
        DDSketch.from_dict(state)


def test_from_dict_rejects_missing_field() -> None:
    state = sketch_of([1.0]).to_dict()
    del state["c"]
    with pytest.raises(ValueError, match="not a DDSketch state"):
        DDSketch.from_dict(state)


# -- invalid input ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1.0, -1e-12])
def test_add_rejects_negative_nan_and_infinite(bad: float) -> None:
    sketch = sketch_of([1.0])
    before = sketch.to_dict()
    with pytest.raises(ValueError, match="finite and >= 0"):
        sketch.add(bad)
    assert sketch.to_dict() == before


def test_add_many_keeps_the_values_before_an_invalid_one() -> None:
    sketch = DDSketch()
    with pytest.raises(ValueError):
        sketch.add_many([1.0, 2.0, math.nan, 3.0])
    assert sketch == sketch_of([1.0, 2.0])


@pytest.mark.parametrize("q", [-0.01, 1.01, math.nan])
def test_quantile_outside_0_1_raises(q: float) -> None:
    with pytest.raises(ValueError, match="q must be in"):
        sketch_of([1.0]).quantile(q)
    with pytest.raises(ValueError, match="q must be in"):
        DDSketch().quantile(q)


@pytest.mark.parametrize(
    "kwargs", [{"relative_accuracy": 0.0}, {"relative_accuracy": 1.0}, {"max_buckets": 0}]
)
def test_constructor_rejects_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DDSketch(**kwargs)
