"""Services follow a cluster switch: pick the cluster at start-up, re-exec onto the next.

Only with more than one cluster in ``WK_KAFKA_CLUSTERS``; with one, :func:`at_start`
returns None at once and no thread runs.

* At start-up every cluster is probed and its ``<prefix>cluster-active`` markers read;
  the service joins the cluster of the newest marker (``clusters.choose``), so one
  restarted after the primary came back still joins the others on the secondary.
  ``KAFKA_BOOTSTRAP_SERVERS`` is set to it before the configuration is read.
* A :class:`Follower` thread (a ``Beside`` of the engine, so ``/healthz`` turns 503 while
  the current cluster does not answer) probes the current cluster once a second; once it
  has been unreachable for ``WK_FAILOVER_AFTER_S`` while another answers, it writes a
  marker there and re-executes the process with ``KAFKA_BOOTSTRAP_SERVERS`` set to it:
  the service starts clean, restores its state from that cluster's (replicated) state
  topics and resumes from its group's (MirrorMaker-translated) committed offsets.
* Services never fail back by themselves: that is an operator's act after replicating
  back (``watchkeeper failover promote``).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from .. import topic_admin
from ..clusters import MARKER_TOPIC, Clusters, Marker, SwitchPolicy, choose, configured
from ..settings import ConfigError, KafkaSettings, env_str, topic_prefix
from ..topics import TOPICS

log = logging.getLogger("watchkeeper.failover")

INDEX_VAR = "WK_CLUSTER_INDEX"  # set on the re-exec: the cluster is chosen already
PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 5.0
UNKNOWN_TOPIC = KafkaError.UNKNOWN_TOPIC_OR_PART


def on(settings: KafkaSettings, bootstrap: str) -> KafkaSettings:
    from dataclasses import replace

    return replace(settings, bootstrap_servers=bootstrap)


def probe(settings: KafkaSettings, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the cluster answers a metadata request within ``timeout_s``."""
    admin = AdminClient(settings.confluent(**{"log_level": 0, "logger": _quiet}))
    try:
        admin.list_topics(timeout=timeout_s)
        return True
    except KafkaException:
        return False


def _quiet(*_args: object) -> None:  # refused connections to a dead cluster are the point
    return None


def read_markers(settings: KafkaSettings, prefix: str) -> list[Marker] | None:
    """The markers on a cluster ([] if none or no topic yet), or None if it is unreachable.
    Records that are not markers are logged and skipped."""
    topic = prefix + MARKER_TOPIC
    consumer = Consumer(
        settings.confluent(
            **{
                "group.id": "wk-cluster-markers",  # nothing is ever committed
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "log_level": 0,
                "logger": _quiet,
            }
        )
    )
    where = {"cluster": settings.bootstrap_servers}
    try:
        deadline = time.monotonic() + READ_TIMEOUT_S
        while True:
            try:
                found = consumer.list_topics(topic, timeout=PROBE_TIMEOUT_S * 2).topics.get(topic)
            except KafkaException as exc:
                log.info("cluster %s unreachable: %s", settings.bootstrap_servers, exc, extra=where)
                return None
            if found is None or (found.error is not None and found.error.code() == UNKNOWN_TOPIC):
                return []
            if found.error is None or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # a leader being elected after a restart: ask again shortly
        ends = _ends(consumer, topic, list(found.partitions)) if not found.error else None
        if ends is None:  # it answers but cannot serve its markers: as good as unreachable
            log.warning("cannot read the markers of %s", settings.bootstrap_servers, extra=where)
            return None
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        markers: list[Marker] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while ends:
            if time.monotonic() > deadline:
                log.warning("markers of %s not read to the end", settings.bootstrap_servers)
                return None
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                if message.offset() >= ends.get(message.partition(), 0):
                    ends.pop(message.partition(), None)
                continue
            if message.offset() + 1 >= ends.get(message.partition(), 0):
                ends.pop(message.partition(), None)
            try:
                markers.append(Marker.from_json(message.value()))
            except ValueError as exc:
                log.warning("ignored a record of %s: %s", topic, exc, extra={"topic": topic})
        return markers
    except KafkaException:
        return None
    finally:
        consumer.close()


def _ends(consumer: Consumer, topic: str, partitions: list[int]) -> dict[int, int] | None:
    """{partition: end offset} of those holding anything; retried while a broker that has
    just started takes the lead of its partitions again (NOT_LEADER for a few seconds)."""
    deadline = time.monotonic() + READ_TIMEOUT_S
    while True:
        try:
            ends = {}
            for p in partitions:
                high = consumer.get_watermark_offsets(TopicPartition(topic, p), PROBE_TIMEOUT_S)
                if high[1] > 0:
                    ends[p] = high[1]
            return ends
        except KafkaException:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)


def write_marker(settings: KafkaSettings, prefix: str, marker: Marker) -> bool:
    """Write ``marker`` on the cluster of ``settings`` (its topic created if missing)."""
    spec = next(t for t in TOPICS if t.name == MARKER_TOPIC)
    try:
        topic_admin.apply(settings, [spec], prefix=prefix, timeout=10.0)
        producer = Producer(settings.confluent(**{"acks": "all", "enable.idempotence": True}))
        producer.produce(prefix + MARKER_TOPIC, marker.to_json(), marker.key)
        return producer.flush(10.0) == 0
    except KafkaException as exc:
        log.error("could not write the cluster marker: %s", exc, extra={"to": marker.bootstrap})
        return False


def at_start(name: str) -> tuple[Clusters, int] | None:
    """Choose the cluster (and point ``KAFKA_BOOTSTRAP_SERVERS`` at it); None with one
    cluster. ConfigError on a bad ``WK_KAFKA_CLUSTERS`` or ``WK_CLUSTER_INDEX``."""
    if not configured():
        return None
    clusters = Clusters.from_env()
    settings = KafkaSettings.from_env()
    chosen = env_str(INDEX_VAR)
    if chosen is not None:
        if not chosen.isdigit() or int(chosen) >= len(clusters.bootstraps):
            raise ConfigError(f"{INDEX_VAR} must be a cluster index, got {chosen!r}")
        index = int(chosen)
    else:
        prefix = topic_prefix()
        with ThreadPoolExecutor(len(clusters.bootstraps)) as pool:
            results = pool.map(lambda b: read_markers(on(settings, b), prefix), clusters.bootstraps)
            found = dict(enumerate(results))
        index = choose(clusters.bootstraps, found)
        reachable = [clusters.bootstraps[i] for i, m in found.items() if m is not None]
        log.info(
            "%s joins cluster %d (%s)",
            name,
            index,
            clusters.bootstraps[index],
            extra={"reachable": reachable, "markers": sum(len(m or ()) for m in found.values())},
        )
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = clusters.bootstraps[index]
    return clusters, index


def follower(name: str) -> Follower | None:
    """The follower of a service given several clusters (None with one: no cost)."""
    if not configured():
        return None
    from . import logs

    # The engines configure logging again later; the choice must be in the log too.
    logs.configure(name, env_str("WK_LOG_LEVEL", "INFO") or "INFO")
    chosen = at_start(name)
    if chosen is None:
        return None
    clusters, index = chosen
    return Follower(name, clusters, index)


class Follower:
    """Probes the current cluster; on a long enough outage, moves the process to the next."""

    def __init__(
        self,
        name: str,
        clusters: Clusters,
        active: int,
        settings: KafkaSettings | None = None,
        prefix: str | None = None,
        probe: Callable[[KafkaSettings], bool] = probe,
        clock: Callable[[], float] = time.monotonic,
        execute: Callable[[int], None] | None = None,
    ) -> None:
        self.name = name
        self.clusters = clusters
        self.settings = settings or KafkaSettings.from_env()
        self.prefix = topic_prefix() if prefix is None else prefix
        self.policy = SwitchPolicy(
            len(clusters.bootstraps),
            clusters.failover_after_s,
            clusters.failback_after_s,
            failback=False,
            active=active,
        )
        self._probe = probe
        self._clock = clock
        self._execute = execute or self._reexec
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- Beside ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wk-follow", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(PROBE_TIMEOUT_S * len(self.clusters.bootstraps) + 1)

    def problem(self) -> str | None:
        active = self.policy.active
        down = self.policy.down_for(active, self._clock())
        if self.policy.unreachable(active):
            return f"cluster {self.clusters.bootstraps[active]} unreachable for {down:.0f} s"
        return None

    # -- the thread ----------------------------------------------------------------------

    def step(self) -> int | None:
        """One round: probe the active cluster (and, while it is down, the others);
        return the cluster to move to, if it is time."""
        active = self.policy.active
        up = self._probe(on(self.settings, self.clusters.bootstraps[active]))
        self.policy.observe(active, up, self._clock())
        if up:
            return None
        for i, bootstrap in enumerate(self.clusters.bootstraps):
            if i != active:
                self.policy.observe(i, self._probe(on(self.settings, bootstrap)), self._clock())
        return self.policy.decide(self._clock())

    def _run(self) -> None:
        while not self._stop.wait(PROBE_INTERVAL_S):
            try:
                target = self.step()
            except Exception:
                log.exception("cluster follower error")
                continue
            if target is not None and not self._stop.is_set():
                self.move(target)

    def move(self, target: int) -> None:
        bootstrap = self.clusters.bootstraps[target]
        active = self.policy.active
        log.warning(
            "%s: cluster %d (%s) unreachable for %.0f s; moving to cluster %d (%s)",
            self.name,
            active,
            self.clusters.bootstraps[active],
            self.policy.down_for(active, self._clock()),
            target,
            bootstrap,
            extra={"from": self.clusters.bootstraps[active], "to": bootstrap},
        )
        by = f"{self.name}@{env_str('WK_INSTANCE_ID') or socket.gethostname()}"
        marker = Marker(target, bootstrap, time.time_ns() // 1_000_000, by)
        write_marker(on(self.settings, bootstrap), self.prefix, marker)
        self._execute(target)

    def _reexec(self, target: int) -> None:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.clusters.bootstraps[target],
            INDEX_VAR: str(target),
        }
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        # The process image is replaced: sockets (non-inheritable) close, the pid stays,
        # so a supervisor sees one process that started again on the other cluster.
        os.execve(sys.executable, sys.orig_argv, env)
