"""The result cache (TTL, LRU, counters) and the stability of feature keys."""

from __future__ import annotations

import subprocess
import sys

import pytest

from watchkeeper.continuity import ResultCache, Unkeyable, feature_key
from watchkeeper.continuity._keys import canonical, digest


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ttl_expires_entries():
    clock = Clock()
    cache = ResultCache(maxsize=10, ttl_s=5, name="t-ttl", clock=clock)
    cache.put("a", 1)
    clock.now = 4.999
    assert cache.get("a") == (True, 1)
    clock.now = 5.0
    assert cache.get("a") == (False, None)
    assert len(cache) == 0  # an expired entry found is removed
    assert (cache.hits, cache.misses) == (1, 1)


def test_lru_evicts_least_recently_used():
    cache = ResultCache(maxsize=3, ttl_s=60, name="t-lru", clock=Clock())
    for key in "abc":
        cache.put(key, key.upper())
    cache.get("a")  # b is now the oldest use
    cache.put("d", "D")
    assert [cache.peek(k)[0] for k in "abcd"] == [True, False, True, True]
    assert cache.evictions == 1
    cache.put("c", "C2")  # an update refreshes, evicts nothing
    assert len(cache) == 3 and cache.evictions == 1 and cache.peek("c") == (True, "C2")


def test_hit_rate_and_metrics_exposed():
    from prometheus_client import REGISTRY

    cache = ResultCache(name="t-metrics", clock=Clock())
    cache.put("k", 1)
    cache.get("k")
    cache.get("k")
    cache.get("nope")
    assert cache.hit_rate == pytest.approx(2 / 3)
    assert REGISTRY.get_sample_value("wk_sdk_cache_hits_total", {"cache": "t-metrics"}) == 2
    assert REGISTRY.get_sample_value("wk_sdk_cache_misses_total", {"cache": "t-metrics"}) == 1
    assert REGISTRY.get_sample_value("wk_sdk_cache_entries", {"cache": "t-metrics"}) == 1


def test_bad_settings():
    with pytest.raises(ValueError):
        ResultCache(maxsize=0)
    with pytest.raises(ValueError):
        ResultCache(ttl_s=0)


def test_key_ignores_order_and_follows_values():
    a = {"amount": 12.5, "country": "FR", "n": 3, "flag": True, "missing": None}
    b = dict(reversed(list(a.items())))
    assert feature_key(a) == feature_key(b)
    assert feature_key(a) != feature_key({**a, "amount": 12.50001})
    assert feature_key({"n": 1}) != feature_key({"n": "1"})
    assert len(feature_key(a)) == 32 and digest(canonical(a)) == feature_key(a)


def test_key_nested_and_odd_shapes():
    assert feature_key({"a": {"x": 1, "y": 2}}) == feature_key({"a": {"y": 2, "x": 1}})
    assert feature_key({"tags": {"b", "a"}}) == feature_key({"tags": {"a", "b"}})
    assert feature_key([1, 2.0, "x"]) == feature_key((1, 2.0, "x"))
    assert feature_key({1: "a", "1": "b"})  # mixed key types: still a key
    assert feature_key("just text") and feature_key(42)


def test_key_numpy_like_subclasses_key_by_value():
    class MyFloat(float):
        pass

    assert feature_key({"x": MyFloat(1.5)}) == feature_key({"x": 1.5})


@pytest.mark.parametrize(
    "hostile", [{"x": object()}, {"f": lambda: 1}, object(), {"x": [object()]}]
)
def test_unkeyable_features_raise_a_clear_error(hostile):
    with pytest.raises(Unkeyable, match="pass key="):
        feature_key(hostile)


def test_key_is_stable_across_processes():
    # hash() would differ per process (PYTHONHASHSEED); the cache key must not.
    code = (
        "from watchkeeper.continuity import feature_key; print(feature_key({'a': 1.5, 'b': 'x'}))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": sys.path[0]},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outputs == {feature_key({"b": "x", "a": 1.5})}
