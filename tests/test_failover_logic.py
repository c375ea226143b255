"""Cluster failover without Kafka: the settings, the switch policy on an injected clock,
the start-up choice by marker, and the services' follower with injected probes."""

from __future__ import annotations

import pytest

from watchkeeper.clusters import (
    Clusters,
    Marker,
    SwitchPolicy,
    choose,
    configured,
)
from watchkeeper.runtime.follow import Follower
from watchkeeper.sdk._producers import resolve_clusters
from watchkeeper.settings import ConfigError, KafkaSettings

# -- settings ------------------------------------------------------------------------------


def test_clusters_from_env(monkeypatch) -> None:
    monkeypatch.setenv("WK_KAFKA_CLUSTERS", " a1:9092, a2:9092 ; b:9093;")
    monkeypatch.setenv("WK_FAILOVER_AFTER_S", "2.5")
    monkeypatch.setenv("WK_FAILBACK_AFTER_S", "7")
    clusters = Clusters.from_env()
    assert clusters == Clusters(("a1:9092,a2:9092", "b:9093"), 2.5, 7.0)
    assert configured()
    assert clusters.index("a1:9092, a2:9092") == 0


def test_one_cluster_falls_back_to_kafka_bootstrap_servers(monkeypatch) -> None:
    monkeypatch.delenv("WK_KAFKA_CLUSTERS", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k:1")
    assert Clusters.from_env().bootstraps == ("k:1",)
    assert not configured()
    monkeypatch.setenv("WK_KAFKA_CLUSTERS", "k:1")
    assert not configured()  # a list of one is no failover


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WK_KAFKA_CLUSTERS", "a:1;;b:2", "WK_KAFKA_CLUSTERS: cluster 2 of 3 is empty"),
        ("WK_KAFKA_CLUSTERS", ";", "WK_KAFKA_CLUSTERS: cluster 1 of 1 is empty"),
        ("WK_KAFKA_CLUSTERS", "a:1;b", "WK_KAFKA_CLUSTERS: 'b' in cluster 2 is not host:port"),
        ("WK_KAFKA_CLUSTERS", "a:99999", "'a:99999' in cluster 1 is not host:port"),
        ("WK_KAFKA_CLUSTERS", "a:1;a:1", "WK_KAFKA_CLUSTERS: a cluster is listed twice"),
        ("WK_KAFKA_CLUSTERS", "a:1,:2", "':2' in cluster 1 is not host:port"),
        ("WK_FAILOVER_AFTER_S", "soon", "WK_FAILOVER_AFTER_S must be a number, got 'soon'"),
        ("WK_FAILOVER_AFTER_S", "0", "WK_FAILOVER_AFTER_S must be a positive number"),
        ("WK_FAILBACK_AFTER_S", "-1", "WK_FAILBACK_AFTER_S must be a positive number"),
        ("WK_FAILBACK_AFTER_S", "nan", "WK_FAILBACK_AFTER_S must be a positive number"),
        ("WK_FAILBACK_AFTER_S", "inf", "WK_FAILBACK_AFTER_S must be a positive number"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch, name, value, message) -> None:
    monkeypatch.setenv("WK_KAFKA_CLUSTERS", "a:1;b:2")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Clusters.from_env()


def test_the_emitter_reads_the_cluster_list_only_for_its_own_cluster(monkeypatch) -> None:
    monkeypatch.setenv("WK_KAFKA_CLUSTERS", "a:1;b:2")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "a:1")
    assert resolve_clusters(None, None, None, None)[1].bootstraps == ("a:1", "b:2")
    assert resolve_clusters(KafkaSettings("a:1"), None, 1, 2)[1] == Clusters(("a:1", "b:2"), 1, 2)
    # Settings for some other cluster: that one alone, not a list it is not part of.
    assert resolve_clusters(KafkaSettings("c:3"), None, None, None)[1].bootstraps == ("c:3",)
    with pytest.raises(ConfigError, match="clusters: cluster 2 of 2 is empty or has a ;"):
        resolve_clusters(None, ["a:1", ""], None, None)


# -- the switch policy ---------------------------------------------------------------------


def test_failover_needs_an_unbroken_outage_and_a_reachable_target() -> None:
    p = SwitchPolicy(3, failover_after_s=10, failback_after_s=30)
    p.observe(0, False, 0.0)
    p.observe(0, True, 5.0)  # it came back: the clock starts again
    p.observe(0, False, 6.0)
    assert p.decide(15.9) is None
    assert p.decide(16.0) is None  # nobody else answers yet: stay and buffer
    p.observe(1, False, 16.0)
    p.observe(2, True, 16.0)
    assert p.decide(16.0) == 2  # the next one that answers, skipping a dead one
    p.switched(2)
    assert p.decide(16.0) is None


def test_failback_after_the_primary_answered_long_enough() -> None:
    p = SwitchPolicy(2, failover_after_s=10, failback_after_s=30, active=1)
    p.observe(0, True, 0.0)
    p.observe(0, False, 20.0)  # a hiccup resets the failback clock
    p.observe(0, True, 21.0)
    assert p.decide(50.9) is None
    assert p.decide(51.0) == 0
    services = SwitchPolicy(2, 10, 30, failback=False, active=1)
    services.observe(0, True, 0.0)
    assert services.decide(1000.0) is None  # services never fail back by themselves


def test_both_down_stays_put() -> None:
    p = SwitchPolicy(2, failover_after_s=1, failback_after_s=1)
    for t in range(100):
        p.observe(0, False, float(t))
        p.observe(1, False, float(t))
        assert p.decide(float(t)) is None


# -- the marker and the start-up choice -----------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"\xff\xfe",
        b"[]",
        b'"active"',
        b'{"cluster": 1}',
        b'{"cluster": true, "bootstrap": "b:2", "since_ms": 1, "by": "x"}',
        b'{"cluster": 1, "bootstrap": 2, "since_ms": 1, "by": "x"}',
        b'{"cluster": 1, "bootstrap": "b:2", "since_ms": 1.5, "by": "x"}',
    ],
)
def test_a_bad_marker_is_refused(value) -> None:
    with pytest.raises(ValueError, match="cluster marker"):
        Marker.from_json(value)


def test_choose_ignores_markers_for_other_or_unreachable_clusters() -> None:
    b = ("a:1", "b:2", "c:3")
    stale = Marker(2, "c:3", 99, "old")  # points at c, which is down
    foreign = Marker(1, "x:9", 98, "another install")  # index 1 but not our b
    good = Marker(1, "b:2", 10, "slo")
    assert choose(b, {0: [stale, foreign], 1: [good], 2: None}) == 1
    assert choose(b, {0: [stale], 1: [], 2: None}) == 0
    assert choose(b, {0: None, 1: None, 2: []}) == 2


# -- the services' follower ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_follower_moves_once_the_current_cluster_is_down_long_enough() -> None:
    up = {"a:1": True, "b:2": True}
    clock = Clock()
    moved: list[int] = []
    follower = Follower(
        "counter",
        Clusters(("a:1", "b:2"), failover_after_s=3, failback_after_s=30),
        active=0,
        settings=KafkaSettings("a:1"),
        prefix="t.",
        probe=lambda s: up[s.bootstrap_servers],
        clock=clock,
        execute=moved.append,
    )
    assert follower.step() is None and follower.problem() is None
    up["a:1"] = False
    for t in (1.0, 2.0, 3.0):
        clock.now = t
        assert follower.step() is None
        assert follower.problem() == f"cluster a:1 unreachable for {t - 1:.0f} s"
    clock.now = 4.0
    assert follower.step() == 1
    up["b:2"] = False
    follower.policy.observe(0, False, 0.0)
    clock.now = 100.0
    assert follower.step() is None  # b does not answer either: stay


def test_follower_costs_nothing_on_one_cluster(monkeypatch) -> None:
    from watchkeeper.runtime import follow

    monkeypatch.setenv("WK_KAFKA_CLUSTERS", "a:1")
    assert follow.follower("counter") is None
    monkeypatch.delenv("WK_KAFKA_CLUSTERS")
    assert follow.follower("counter") is None


def test_a_bad_cluster_index_is_a_config_error(monkeypatch) -> None:
    from watchkeeper.runtime import follow

    monkeypatch.setenv("WK_KAFKA_CLUSTERS", "a:1;b:2")
    monkeypatch.setenv("WK_CLUSTER_INDEX", "7")
    with pytest.raises(ConfigError, match="WK_CLUSTER_INDEX must be a cluster index, got '7'"):
        follow.at_start("counter")
