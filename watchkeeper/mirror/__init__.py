"""Replication between two clusters with MirrorMaker 2 (a -> b), for failover and drills.

* ``Mirror`` — a dedicated-mode MM2 JVM, supervised like ``LocalKafka`` (``process``);
* ``mm2_properties`` — the configuration it runs with, and why (``properties``);
* ``cluster_b_from_env`` / ``temporary`` — the second local cluster (``clusters``);
* ``PartitionLag`` — lag of one partition, free of Kafka (``lag``); ``LagProbe`` and
  ``wait_caught_up`` measure it on real clusters (``probe``, imported on demand: it needs
  ``confluent_kafka``).
"""

from .clusters import cluster_b_from_env, local_cluster, temporary
from .lag import PartitionLag
from .process import Mirror, ensure_mirror_jars
from .properties import mm2_properties

__all__ = [
    "Mirror",
    "PartitionLag",
    "cluster_b_from_env",
    "ensure_mirror_jars",
    "local_cluster",
    "mm2_properties",
    "temporary",
]
