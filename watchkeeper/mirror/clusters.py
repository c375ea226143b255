"""Cluster b: a second single-node KRaft cluster beside the local one (a), for replication.

Its own home (``WK_KAFKA_B_HOME``, default ``.cache/kafka/cluster-b``) and ports
(``WK_KAFKA_B_PORT``, default 9392, and the next one for its controller), so that a and b
run side by side; otherwise it is a :class:`~watchkeeper.local_kafka.LocalKafka` like a.
Tests and the drills take one in a temporary folder on free ports: :func:`temporary`.
"""

from __future__ import annotations

from pathlib import Path

from .._paths import cache_dir
from ..local_kafka import LocalKafka
from ..ports import free_port
from ..settings import env_int, env_str

CLUSTERS = ("a", "b")


def cluster_b_from_env() -> LocalKafka:
    port = env_int("WK_KAFKA_B_PORT", 9392)
    return LocalKafka(
        home=Path(env_str("WK_KAFKA_B_HOME") or cache_dir() / "kafka" / "cluster-b"),
        port=port,
        controller_port=port + 1,
        heap=env_str("WK_KAFKA_HEAP", "512m") or "512m",
    )


def local_cluster(name: str) -> LocalKafka:
    """``a``: the local broker of ``watchkeeper kafka up``; ``b``: the second one."""
    if name == "a":
        return LocalKafka.from_env()
    if name == "b":
        return cluster_b_from_env()
    raise ValueError(f"no cluster {name!r}; known: {', '.join(CLUSTERS)}")


def temporary(home: Path, heap: str = "384m") -> LocalKafka:
    """A single-node cluster in ``home`` on free ports (call ``up()`` to start it)."""
    return LocalKafka(home=home, port=free_port(), controller_port=free_port(), heap=heap)
