"""``watchkeeper kafka up|down|status|jars [--brokers 3 | --cluster b]``: the local Kafka of
``make kafka-up``.

One broker by default (the demo and the fast tests); ``--brokers 3`` runs the replicated
cluster the fault tests use (RF 3, min ISR 2), on ports ``WK_KAFKA_CLUSTER_PORT`` (9192)
and the five after it. ``--cluster b`` runs a second single broker beside the first, the
target of replication (``WK_KAFKA_B_PORT``, 9392; ``watchkeeper.mirror.clusters``).
``KAFKA_BOOTSTRAP_SERVERS`` wins over all of them: nothing is started.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ._paths import cache_dir
from .local_cluster import LocalCluster
from .local_kafka import LocalKafka, LocalKafkaError, ensure_jars
from .mirror.clusters import local_cluster
from .mirror.process import ensure_mirror_jars
from .settings import env_int, env_str


def external_bootstrap() -> str | None:
    return env_str("KAFKA_BOOTSTRAP_SERVERS")


def cluster_from_env(size: int) -> LocalCluster:
    base = env_int("WK_KAFKA_CLUSTER_PORT", 9192)
    return LocalCluster(
        home=Path(env_str("WK_KAFKA_CLUSTER_HOME") or cache_dir() / "kafka" / "cluster"),
        size=size,
        ports=[(base + i, base + size + i) for i in range(size)],
    )


def _pids(brokers: int, cluster: str = "a") -> tuple[list[LocalKafka], str]:
    if brokers == 1:
        node = local_cluster(cluster)
        return [node], node.bootstrap
    cluster = cluster_from_env(brokers)
    return list(cluster.nodes.values()), cluster.bootstrap


def _refused(brokers: int, cluster: str) -> bool:
    if brokers != 1 and cluster != "a":
        print("error: --cluster b is a single broker; --brokers 3 is cluster a's", file=sys.stderr)
        return True
    return False


def main_up(brokers: int = 1, cluster: str = "a") -> int:
    if _refused(brokers, cluster):
        return 2
    external = external_bootstrap()
    if external:
        print(f"KAFKA_BOOTSTRAP_SERVERS is set: using {external}, nothing started")
        return 0
    try:
        if brokers == 1:
            kafka = local_cluster(cluster)
            was_running = kafka.running_pid() is not None and kafka.reachable()
            bootstrap, home = kafka.up(), kafka.home
        else:
            cluster = cluster_from_env(brokers)
            was_running = all(n.running_pid() is not None for n in cluster.nodes.values())
            bootstrap, home = cluster.up(), cluster.home
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = "already running" if was_running else "started"
    what = "Kafka" if brokers == 1 else f"Kafka cluster of {brokers} brokers"
    what += " (cluster b)" if cluster == "b" else ""
    print(f"{what} {state} (data in {home})")
    print(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
    return 0


def main_down(brokers: int = 1, cluster: str = "a") -> int:
    if _refused(brokers, cluster):
        return 2
    if external_bootstrap():
        print("KAFKA_BOOTSTRAP_SERVERS is set: nothing was started here, nothing to stop")
        return 0
    nodes, _ = _pids(brokers, cluster)
    stopped = [node.down() for node in nodes]
    print("Kafka stopped" if any(stopped) else "Kafka was not running")
    return 0


def main_status(brokers: int = 1, cluster: str = "a") -> int:
    if _refused(brokers, cluster):
        return 2
    external = external_bootstrap()
    if external:
        print(f"external cluster {external}")
        return 0
    nodes, _ = _pids(brokers, cluster)
    running = 0
    for node in nodes:
        pid = node.running_pid()
        if pid is None:
            print(f"node {node.node_id}: not running")
        else:
            running += 1
            print(
                f"node {node.node_id}: running, pid {pid}, {node.bootstrap}, "
                f"reachable={node.reachable()}"
            )
    return 0 if running == len(nodes) else 1


def main_jars(brokers: int = 1, cluster: str = "a") -> int:
    try:
        print(ensure_jars())
        # MirrorMaker 2 too: the replication tests need it, and `make test` runs this.
        print(ensure_mirror_jars())
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
