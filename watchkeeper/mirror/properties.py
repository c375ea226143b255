"""The ``mm2.properties`` of a dedicated-mode MirrorMaker 2: clusters ``a`` -> ``b``.

Why each setting (see docs/disaster-recovery.md, "Replication (MirrorMaker 2)"):

* ``IdentityReplicationPolicy``: topics keep their names on b (no ``a.`` prefix), so
  clients and services fail over without renaming anything;
* ``sync.topic.configs.enabled``: ``cleanup.policy=compact`` (and retention) follow the
  topic to b, so state topics stay compacted there;
* checkpoints and ``sync.group.offsets`` every second: consumer groups' offsets on a are
  translated and written to b's groups (KIP-545), for groups with no members on b;
* ``offset.lag.max=0``: an offset sync for every replicated batch, so translation is exact
  rather than "somewhere within the last 100 records" (MM2 only translates from syncs it
  still holds: KAFKA-14666);
* ``a.consumer.isolation.level=read_committed``: our services write transactionally;
  aborted records and open transactions are not copied;
* every internal topic RF 1 (the local clusters have one broker; production sets 3).

>>> text = mm2_properties("127.0.0.1:1", "127.0.0.1:2", "wk.")
>>> props = dict(line.split(" = ", 1) for line in text.splitlines()
...              if line and not line.startswith("#"))
>>> props["a->b.topics"], props["b->a.enabled"], props["a.consumer.isolation.level"]
('wk\\\\\\\\..*', 'false', 'read_committed')
>>> props["replication.policy.class"].rsplit(".", 1)[1]
'IdentityReplicationPolicy'
>>> topics_regex("t1f.")
't1f\\\\..*'
"""

from __future__ import annotations

import re

IDENTITY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
# What MM2 creates on b (Connect's own state, checkpoints, heartbeats) and on a (offset
# syncs); named for the docs and tests. None of them matches a prefix's topics.
INTERNAL_TOPICS_B = (
    "mm2-configs.a.internal",
    "mm2-offsets.a.internal",
    "mm2-status.a.internal",
    "a.checkpoints.internal",
    "heartbeats",
)
INTERNAL_TOPICS_A = ("mm2-offset-syncs.b.internal",)


def topics_regex(prefix: str) -> str:
    """The prefix's topics, as MM2's ``topics`` (a Java regex over whole names)."""
    if not prefix:
        raise ValueError("a prefix is needed: without one MM2 would copy every topic")
    return re.escape(prefix) + ".*"


def mm2_properties(
    source: str,
    target: str,
    prefix: str,
    groups: str = ".*",
    sync_interval_s: int = 1,
    refresh_topics_s: int = 3,
    tasks: int = 1,
    offset_lag_max: int = 0,
) -> str:
    """The whole file, one ``key = value`` a line."""
    for name, value in (("source", source), ("target", target)):
        if not value or any(c in value for c in "\n\r=\\"):
            raise ValueError(f"{name} bootstrap {value!r} is not a host:port list")
    pairs = [
        ("clusters", "a, b"),
        ("a.bootstrap.servers", source),
        ("b.bootstrap.servers", target),
        ("a->b.enabled", "true"),
        ("b->a.enabled", "false"),
        # A properties file reads "\." as "."; the regex needs its backslash kept.
        ("a->b.topics", topics_regex(prefix).replace("\\", "\\\\")),
        ("a->b.groups", groups),
        ("replication.policy.class", IDENTITY),
        ("sync.topic.configs.enabled", "true"),
        ("sync.topic.acls.enabled", "false"),
        # The jars declare their plugins: skip the class-path scan (seconds at each start).
        ("plugin.discovery", "service_load"),
        ("refresh.topics.interval.seconds", str(refresh_topics_s)),
        ("refresh.groups.interval.seconds", str(refresh_topics_s)),
        ("emit.checkpoints.enabled", "true"),
        ("emit.checkpoints.interval.seconds", str(sync_interval_s)),
        ("sync.group.offsets.enabled", "true"),
        ("sync.group.offsets.interval.seconds", str(sync_interval_s)),
        ("emit.heartbeats.interval.seconds", str(sync_interval_s)),
        ("offset.lag.max", str(offset_lag_max)),
        ("tasks.max", str(tasks)),
        ("a.consumer.isolation.level", "read_committed"),
        # Connect's own commit of the source offsets: how much is re-sent after a crash.
        ("offset.flush.interval.ms", "1000"),
        ("replication.factor", "1"),
        ("checkpoints.topic.replication.factor", "1"),
        ("heartbeats.topic.replication.factor", "1"),
        ("offset-syncs.topic.replication.factor", "1"),
        ("offset.storage.replication.factor", "1"),
        ("status.storage.replication.factor", "1"),
        ("config.storage.replication.factor", "1"),
    ]
    lines = ["# written by watchkeeper.mirror; edits are overwritten at the next `mirror up`"]
    lines += [f"{key} = {value}" for key, value in pairs]
    return "\n".join(lines) + "\n"
