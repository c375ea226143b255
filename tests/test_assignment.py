"""Sticky, weighted assignment: shares as weighted, minimal movement, refusals."""

from __future__ import annotations

import pytest

from watchkeeper.sdk._assignment import Split, SplitError, Variant

KEYS = [f"user-{i}" for i in range(40_000)]


def split(*weights: float, salt: str = "") -> Split:
    return Split(
        "fraud",
        tuple(Variant(f"v{i}", f"{i}.0", w) for i, w in enumerate(weights)),
        salt,
    )


def shares(s: Split) -> list[float]:
    counts = {v.name: 0 for v in s.variants}
    for key in KEYS:
        counts[s.assign(key).name] += 1
    return [counts[v.name] / len(KEYS) for v in s.variants]


@pytest.mark.parametrize("weights", [(50, 50), (99, 1), (70, 20, 10), (100, 0)])
def test_shares_follow_the_weights(weights) -> None:
    for got, want in zip(shares(split(*weights)), weights, strict=True):
        assert abs(got - want / 100) < 0.01


def test_each_canary_step_moves_only_baseline_users_to_the_canary() -> None:
    steps = [1, 5, 25, 50, 100]
    before = split(100 - steps[0], steps[0])
    for step in steps[1:]:
        after = before.with_weights({"v0": 100 - step, "v1": step})
        moved = [k for k in KEYS if before.assign(k).name != after.assign(k).name]
        assert {(before.assign(k).name, after.assign(k).name) for k in moved} == {("v0", "v1")}
        share = len(moved) / len(KEYS)
        expected = (step - (100 - before.variants[0].weight)) / 100
        assert abs(share - expected) < 0.01
        before = after


def test_a_new_salt_reshuffles() -> None:
    a, b = split(50, 50), split(50, 50, salt="experiment-2")
    changed = sum(1 for k in KEYS if a.assign(k).name != b.assign(k).name) / len(KEYS)
    assert 0.45 < changed < 0.55


@pytest.mark.parametrize(
    ("variants", "reason"),
    [
        ((), "at least one variant"),
        ((Variant("a", "1", 60), Variant("b", "2", 60)), "add up to 120"),
        ((Variant("a", "1", 110), Variant("b", "2", -10)), "negative"),
        ((Variant("a", "1", 50), Variant("a", "2", 50)), "repeat"),
    ],
)
def test_bad_splits_are_refused(variants, reason) -> None:
    with pytest.raises(SplitError, match=reason):
        Split("fraud", variants)
    with pytest.raises(SplitError, match="no variants"):
        split(50, 50).with_weights({"v9": 10})
