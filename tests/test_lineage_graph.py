"""The lineage graph and the registry's facts on it: walks, Marquez's shape, impact."""

from __future__ import annotations

import pytest

from services.registry.lineage.feed import (
    alias_moved,
    dataset_registered,
    stream_seen,
    version_registered,
)
from services.registry.lineage.graph import LineageGraph, UnknownNode, chain

NOW = 1_772_366_400_000


@pytest.fixture
def fed() -> LineageGraph:
    """source -> job -> dataset -> version -> alias + stream, as the registry feeds it."""
    g = LineageGraph()
    chain(g, ["dataset:s3://lake:raw/clicks", "job:airflow:etl.clicks"])
    dataset_registered(g, "clicks", "4", source="job:airflow:etl.clicks")
    version_registered(g, "ctr", "7", [{"name": "clicks", "version": "4"}], [("holdout", "1")])
    alias_moved(g, "ctr", "champion", "7")
    for second in range(60):
        stream_seen(g, "ctr", "7", count=5, now_ms=NOW - 59_000 + second * 1000)
    return g


def test_impact_through_the_chain_lists_the_stream_with_rate_and_last_seen(fed):
    assert fed.impact("dataset:s3://lake:raw/clicks", now_ms=NOW) == {
        "datasets": ["dataset:watchkeeper:clicks"],
        "versions": ["version:ctr:7"],
        "aliases": ["alias:ctr@champion"],
        "streams": [
            {
                "id": "stream:ctr:7",
                "model": "ctr",
                "version": "7",
                "rate_per_s": 5.0,
                "last_seen_ms": NOW,
            }
        ],
    }
    # 30 s without predictions: half the window is empty.
    assert (
        fed.impact("dataset:watchkeeper:clicks", now_ms=NOW + 30_000)["streams"][0]["rate_per_s"]
        == 2.5
    )


def test_registry_facts_leave_their_attributes(fed):
    assert fed.attrs("version:ctr:7") == {
        "model": "ctr",
        "version": "7",
        "registered": True,
        "training_datasets": ["clicks:4"],
        "evaluation_datasets": ["holdout:1"],
    }
    assert fed.attrs("dataset:watchkeeper:clicks") == {
        "namespace": "watchkeeper",
        "name": "clicks",
        "versions": ["4"],
        "source": "job:airflow:etl.clicks",
    }
    assert fed.in_edges("version:ctr:7") == [
        "dataset:watchkeeper:clicks",
        "dataset:watchkeeper:holdout",
        "model:ctr",
    ]
    dataset_registered(fed, "clicks", "10", source="job:airflow:etl.clicks")
    dataset_registered(fed, "clicks", "10", source="job:airflow:etl.clicks")
    assert fed.attrs("dataset:watchkeeper:clicks")["versions"] == ["10", "4"]


def test_an_alias_points_at_one_version(fed):
    version_registered(fed, "ctr", "8", [{"name": "clicks", "version": "4"}])
    alias_moved(fed, "ctr", "champion", "8")
    assert fed.in_edges("alias:ctr@champion") == ["version:ctr:8"]
    assert fed.attrs("alias:ctr@champion") == {"model": "ctr", "alias": "champion", "version": "8"}
    assert fed.impact("version:ctr:7", now_ms=NOW)["aliases"] == []
    alias_moved(fed, "ctr", "champion", None)
    assert "alias:ctr@champion" not in fed
    assert fed.out_edges("version:ctr:8") == []


def test_a_stream_of_an_unregistered_version_is_still_shown():
    g = LineageGraph()
    stream_seen(g, "ctr", "9", count=3, now_ms=NOW)
    assert g.attrs("version:ctr:9") == {"model": "ctr", "version": "9"}
    assert g.impact("model:ctr", now_ms=NOW) == {
        "datasets": [],
        "versions": ["version:ctr:9"],
        "aliases": [],
        "streams": [
            {
                "id": "stream:ctr:9",
                "model": "ctr",
                "version": "9",
                "rate_per_s": 3.0,
                "last_seen_ms": NOW,
            }
        ],
    }


def test_upstream_and_downstream_with_depth(fed):
    assert fed.upstream("stream:ctr:7", depth=2) == [
        {"id": "version:ctr:7", "type": "VERSION", "distance": 1},
        {"id": "dataset:watchkeeper:clicks", "type": "DATASET", "distance": 2},
        {"id": "dataset:watchkeeper:holdout", "type": "DATASET", "distance": 2},
        {"id": "model:ctr", "type": "MODEL", "distance": 2},
    ]
    assert [n["id"] for n in fed.upstream("stream:ctr:7", depth=None)][-2:] == [
        "job:airflow:etl.clicks",
        "dataset:s3://lake:raw/clicks",
    ]
    assert fed.downstream("job:airflow:etl.clicks", depth=1) == [
        {"id": "dataset:watchkeeper:clicks", "type": "DATASET", "distance": 1}
    ]
    assert fed.downstream("job:airflow:etl.clicks", depth=0) == []


def test_lineage_in_marquez_shape(fed):
    graph = fed.lineage("dataset:watchkeeper:clicks", depth=1, now_ms=NOW)["graph"]
    assert [n["id"] for n in graph] == [
        "dataset:watchkeeper:clicks",
        "job:airflow:etl.clicks",
        "version:ctr:7",
    ]
    clicks, job, version = graph
    assert clicks == {
        "id": "dataset:watchkeeper:clicks",
        "type": "DATASET",
        "data": fed.attrs("dataset:watchkeeper:clicks"),
        "inEdges": [
            {"origin": "job:airflow:etl.clicks", "destination": "dataset:watchkeeper:clicks"}
        ],
        "outEdges": [{"origin": "dataset:watchkeeper:clicks", "destination": "version:ctr:7"}],
    }
    # Edges to nodes outside the answer are left out: the job's input is two hops away.
    assert job["inEdges"] == []
    assert version["outEdges"] == []
    streams = fed.lineage("version:ctr:7", depth=1, now_ms=NOW)["graph"]
    stream = next(n for n in streams if n["type"] == "STREAM")
    assert stream["data"] == {
        "model": "ctr",
        "version": "7",
        "rate_per_s": 5.0,
        "last_seen_ms": NOW,
    }


def test_cycles_end_and_answers_are_sorted():
    g = LineageGraph()
    chain(g, ["dataset:n:a", "job:n:j1", "dataset:n:b", "job:n:j2", "dataset:n:a"])
    chain(g, ["dataset:n:b", "version:m:1", "stream:m:1"])
    assert g.impact("dataset:n:a", now_ms=NOW) == {
        "datasets": ["dataset:n:b"],
        "versions": ["version:m:1"],
        "aliases": [],
        "streams": [
            {
                "id": "stream:m:1",
                "model": None,
                "version": None,
                "rate_per_s": 0.0,
                "last_seen_ms": None,
            }
        ],
    }
    assert [n["id"] for n in g.downstream("dataset:n:a", depth=None)] == [
        "job:n:j1",
        "dataset:n:b",
        "job:n:j2",
        "version:m:1",
        "stream:m:1",
    ]
    assert [n["id"] for n in g.lineage("dataset:n:b", depth=5)["graph"]] == sorted(g.nodes())


def test_order_does_not_depend_on_feeding_order():
    edges = [("dataset:n:s", f"job:n:j{i}") for i in range(20)] + [
        (f"job:n:j{i}", f"dataset:n:d{i % 7}") for i in range(20)
    ]
    one, two = LineageGraph(), LineageGraph()
    for a, b in edges:
        one.add_edge(a, b)
    for a, b in reversed(edges):
        two.add_edge(a, b)
    assert one.impact("dataset:n:s", now_ms=NOW) == two.impact("dataset:n:s", now_ms=NOW)
    assert one.lineage("dataset:n:s", 2) == two.lineage("dataset:n:s", 2)
    assert one.downstream("dataset:n:s") == two.downstream("dataset:n:s")


def test_a_long_chain_is_walked_without_recursion():
    g = LineageGraph()
    chain(g, [f"dataset:n:{i:05d}" for i in range(20_000)])
    assert len(g.impact("dataset:n:00000", now_ms=NOW)["datasets"]) == 19_999
    assert len(g.upstream("dataset:n:19999", depth=None)) == 19_999


def test_bad_questions_get_clear_errors():
    g = LineageGraph()
    with pytest.raises(UnknownNode) as caught:
        g.impact("dataset:n:nope")
    assert str(caught.value) == "no lineage node 'dataset:n:nope'"
    with pytest.raises(UnknownNode):
        g.lineage("job:n:nope")
    g.add_node("dataset:n:a")
    with pytest.raises(ValueError, match=r"depth must be a whole number >= 0, got -1"):
        g.upstream("dataset:n:a", depth=-1)
    with pytest.raises(ValueError, match=r"node id 'thing' must start with dataset:"):
        g.add_edge("dataset:n:a", "thing")
    with pytest.raises(ValueError, match=r"count must be >= 0, got -3"):
        stream_seen(g, "m", "1", count=-3, now_ms=NOW)


def test_removing_a_node_removes_its_edges(fed):
    assert fed.remove_node("version:ctr:7")
    assert fed.out_edges("dataset:watchkeeper:clicks") == []
    assert fed.in_edges("stream:ctr:7") == []
    assert not fed.remove_node("version:ctr:7")
    assert not fed.remove_edge("dataset:n:none", "job:n:none")
