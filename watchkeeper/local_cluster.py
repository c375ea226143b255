"""A real three-node Kafka cluster (KRaft) on one machine, for the fault tests.

Each node is a :class:`~watchkeeper.local_kafka.LocalKafka` JVM, broker and controller at
once, with its own folder under ``home``; replicated as production is (RF 3, min ISR 2,
``deploy/kafka/cluster.properties``). Nodes can be killed with SIGKILL and started again on
their data one by one, and the cluster says which node leads a partition and which one
coordinates a consumer group or a transactional id, so that a test can kill exactly the
broker it means to.

The single broker stays the default for the demo and the fast tests; ``watchkeeper kafka
up --brokers 3`` starts this one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .local_kafka import CLUSTER_TEMPLATE, LocalKafka, LocalKafkaError, new_cluster_id
from .ports import free_port


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (Kafka picks coordinator partitions with it).

    >>> java_string_hash("wk.slo"), java_string_hash("")
    (-787797220, 0)
    """
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def coordinator_partition(key: str, partitions: int) -> int:
    """The partition of ``__consumer_offsets`` (for a group id) or ``__transaction_state``
    (for a transactional id) that holds ``key``: ``Utils.abs(key.hashCode) % partitions``."""
    h = java_string_hash(key)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


@dataclass
class LocalCluster:
    """``size`` nodes under ``home``; ports are chosen once and kept in ``cluster.json`` so
    that a node restarted on its data comes back where its peers expect it."""

    home: Path
    size: int = 3
    heap: str = "384m"
    ports: list[tuple[int, int]] = field(default_factory=list)
    nodes: dict[int, LocalKafka] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        layout = self.home / "cluster.json"
        if layout.exists():
            saved = json.loads(layout.read_text())
            cluster_id, self.ports = saved["cluster_id"], [tuple(p) for p in saved["ports"]]
        else:
            cluster_id = new_cluster_id()
            self.ports = self.ports or [(free_port(), free_port()) for _ in range(self.size)]
            layout.write_text(json.dumps({"cluster_id": cluster_id, "ports": self.ports}))
        voters = ",".join(
            f"{n}@127.0.0.1:{controller}" for n, (_, controller) in enumerate(self.ports, 1)
        )
        for n, (port, controller) in enumerate(self.ports, 1):
            self.nodes[n] = LocalKafka(
                home=self.home / f"node{n}",
                port=port,
                controller_port=controller,
                heap=self.heap,
                node_id=n,
                voters=voters,
                cluster_id=cluster_id,
                template=CLUSTER_TEMPLATE,
            )

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes.values())

    def up(self, timeout: float = 180.0) -> str:
        """Start every node that is not running (all at once: a controller quorum needs a
        majority before any node answers); wait until all of them are brokers again."""
        launched = {
            n: node.launch() for n, node in self.nodes.items() if node.running_pid() is None
        }
        for n, process in launched.items():
            self.nodes[n].wait_ready(process, timeout)
        self.wait_for_brokers(self.size, timeout)
        return self.bootstrap

    def start(self, node_id: int, timeout: float = 120.0) -> None:
        """Start one node again on its data and wait until the cluster counts it."""
        node = self.nodes[node_id]
        node.wait_ready(node.launch(), timeout)
        self.wait_for_brokers(self.size, timeout)

    def kill(self, node_id: int) -> None:
        """SIGKILL one node."""
        self.nodes[node_id].kill()

    def down(self) -> None:
        for node in self.nodes.values():
            node.down()

    def _admin(self):
        from confluent_kafka.admin import AdminClient

        return AdminClient(
            {"bootstrap.servers": self.bootstrap, "security.protocol": "plaintext", "log_level": 0}
        )

    def wait_for_brokers(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        admin = self._admin()
        while time.monotonic() < deadline:
            try:
                if len(admin.list_topics(timeout=5).brokers) >= count:
                    return
            except Exception:
                pass
            time.sleep(0.3)
        raise LocalKafkaError(f"the cluster did not have {count} brokers within {timeout:.0f} s")

    def leader(self, topic: str, partition: int, timeout: float = 30.0) -> int:
        """The node id leading ``topic``/``partition`` now (waiting while a topic created a
        moment ago, or a partition whose leader died, has none)."""
        admin = self._admin()
        deadline = time.monotonic() + timeout
        while True:
            found = admin.list_topics(topic, timeout=10).topics.get(topic)
            meta = found.partitions.get(partition) if found is not None else None
            if meta is not None and meta.leader >= 0:
                return meta.leader
            if time.monotonic() > deadline:
                raise LocalKafkaError(f"{topic} [{partition}] has no leader after {timeout} s")
            time.sleep(0.2)

    def _internal_partitions(self, topic: str) -> int:
        found = self._admin().list_topics(topic, timeout=10).topics.get(topic)
        if found is None or not found.partitions:
            raise LocalKafkaError(f"{topic} does not exist yet")
        return len(found.partitions)

    def group_coordinator(self, group: str, timeout: float = 60.0) -> int:
        """The node coordinating consumer group ``group`` (asked of the cluster, again
        while the coordinator is still loading)."""
        admin = self._admin()
        deadline = time.monotonic() + timeout
        while True:
            (future,) = admin.describe_consumer_groups([group], request_timeout=5).values()
            try:
                return future.result(timeout=10).coordinator.id
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise LocalKafkaError(f"no coordinator for group {group}: {exc}") from exc
                time.sleep(0.5)

    def transaction_coordinator(self, transactional_id: str) -> int:
        """The node coordinating ``transactional_id`` (once ``__transaction_state`` exists:
        the first transactional producer creates it)."""
        topic = "__transaction_state"
        return self.leader(
            topic, coordinator_partition(transactional_id, self._internal_partitions(topic))
        )
