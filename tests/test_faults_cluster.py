"""On three brokers (RF 3, min ISR 2): the leader of the input partition killed under load,
and the broker that coordinates both the consumer groups and the transactions killed
mid-transaction. Each broker comes back on its data; counts are exact."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer

from loadtest.bounce import BATCH_SERVICES, PER_MODEL_OUTPUTS, SERVICES, Fleet, Workload, bounce
from watchkeeper import topic_admin
from watchkeeper.devstack._offsets import end_offsets
from watchkeeper.local_cluster import LocalCluster, coordinator_partition
from watchkeeper.settings import KafkaSettings

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
EVENTS = 9000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    nodes = LocalCluster(tmp_path_factory.mktemp("cluster"))
    nodes.up()
    create_internal_topics(nodes)
    yield nodes
    nodes.down()


def create_internal_topics(nodes: LocalCluster) -> None:
    """``__consumer_offsets`` and ``__transaction_state`` exist once used: use them."""
    settings = KafkaSettings(bootstrap_servers=nodes.bootstrap)
    producer = Producer(settings.confluent(**{"transactional.id": f"warm-{uuid.uuid4().hex}"}))
    producer.init_transactions(60)
    nodes.group_coordinator(f"warm-{uuid.uuid4().hex}")  # finding one creates the topic


def exact(result: dict, names, workload: Workload) -> None:
    assert result["undelivered"] == 0
    services = result["services"]
    assert {n: s["counted"] for n, s in services.items()} == dict.fromkeys(names, EVENTS)
    assert {n: s["outputs"] for n, s in services.items() if "outputs" in s} == {
        n: 1 for n in names if n in PER_MODEL_OUTPUTS
    }
    if "cost" in services:
        assert services["cost"]["cost_usd"] == workload.expected_cost()
    assert all(s["recovery_s"] is not None for s in services.values()), services


def test_killing_the_leader_of_the_input_partition(cluster, tmp_path) -> None:
    settings = KafkaSettings(bootstrap_servers=cluster.bootstrap)
    prefix = f"t{uuid.uuid4().hex[:10]}."
    topic_admin.apply(settings, prefix=prefix)
    fleet = Fleet(settings, prefix, tmp_path).start()
    workload = Workload(EVENTS)
    victim: list[int] = []

    def kill_leader() -> None:
        # Every prediction is keyed "fraud": one partition holds them all.
        (partition,) = [
            p for p, end in end_offsets(settings, prefix + "predictions").items() if end
        ]
        victim.append(cluster.leader(prefix + "predictions", partition))
        cluster.kill(victim[0])

    try:
        result = bounce(fleet, workload, kill_leader, lambda: cluster.start(victim[0]))
    finally:
        exits = fleet.stop()
    exact(result, SERVICES, workload)
    assert exits == dict.fromkeys(SERVICES, 0)


def coordinated_by_one_node(cluster: LocalCluster) -> tuple[str, dict[str, str], int]:
    """A topic prefix and an instance id per service such that one node coordinates every
    service's consumer group and its transactional id."""
    leaders = {}
    for internal in ("__consumer_offsets", "__transaction_state"):
        meta = cluster._admin().list_topics(internal, timeout=10).topics[internal].partitions
        leaders[internal] = {p: m.leader for p, m in meta.items()}

    def node_of(internal: str, key: str) -> int:
        return leaders[internal][coordinator_partition(key, len(leaders[internal]))]

    for _ in range(10_000):
        prefix = f"t{uuid.uuid4().hex[:10]}."
        nodes = {node_of("__consumer_offsets", prefix + name) for name in BATCH_SERVICES}
        if len(nodes) == 1:
            break
    (node,) = nodes
    instances = {}
    for name in BATCH_SERVICES:
        instances[name] = next(
            f"x{i}"
            for i in range(10_000)
            if node_of("__transaction_state", f"{prefix}{name}.{name}-x{i}") == node
        )
    return prefix, instances, node


def test_killing_the_coordinators_broker_mid_transaction(cluster, tmp_path) -> None:
    settings = KafkaSettings(bootstrap_servers=cluster.bootstrap)
    prefix, instances, node = coordinated_by_one_node(cluster)
    topic_admin.apply(settings, prefix=prefix)
    fleet = Fleet(settings, prefix, tmp_path)
    for name in BATCH_SERVICES:
        fleet.add(name, instances[name]).wait_healthy(timeout=120)
    for name in BATCH_SERVICES:
        group, txn = prefix + name, f"{prefix}{name}.{name}-{instances[name]}"
        assert cluster.group_coordinator(group) == node
        assert cluster.transaction_coordinator(txn) == node
    workload = Workload(EVENTS)
    try:
        # The stream is flowing when the node dies: every engine has a transaction open
        # (it begins the next one as it commits the last).
        result = bounce(
            fleet,
            workload,
            lambda: cluster.kill(node),
            lambda: cluster.start(node),
            names=BATCH_SERVICES,
        )
    finally:
        exits = fleet.stop()
    exact(result, BATCH_SERVICES, workload)
    assert set(exits.values()) == {0}
