"""The emitter's side of cluster failover: one producer per cluster, a probe thread, and
the switch itself. Runs only when the emitter is given more than one cluster.

* Once a second the thread asks each cluster for its metadata (``list_topics`` with a
  one-second timeout) and feeds the answers to a :class:`~watchkeeper.clusters.SwitchPolicy`;
  librdkafka's ``_ALL_BROKERS_DOWN`` on the active producer counts as a failed probe at
  once. The emit path pays one attribute read (``_hold``) and nothing else.
* A switch holds new events in the backlog (bounded as always), points the emitter at the
  next producer, purges the old one and re-sends what comes back through its delivery
  reports (``_PURGE_QUEUE``, ``_PURGE_INFLIGHT``) ahead of the backlog, then lets the
  backlog go on. An in-flight one was sent and never acknowledged, so maybe written; so
  may a queued one be when the old cluster was unreachable: librdkafka puts a request
  whose connection broke back in the queue for a retry, and the Python client does not
  say which (no ``rd_kafka_message_status``). Those may arrive twice; the ``event_id``
  tells the copies apart. What the old producer held is at most its
  window, which is also the new producer's queue size: it fits.
* Failing back first flushes the active (secondary) producer for a few seconds, so that
  little is in flight when it is purged.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, Producer

from ..clusters import Clusters, SwitchPolicy
from . import _metrics
from ._buffer import Item
from ._producers import purge

if TYPE_CHECKING:
    from ._emitter import Emitter

log = logging.getLogger("watchkeeper.sdk.failover")

PURGED = (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)
PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 1.0
FAILBACK_FLUSH_S = 5.0
SETTLE_S = 2.0  # how long purged messages get to come back through delivery reports


class Failover:
    """Watches the clusters of ``emitter`` and switches its producer between them."""

    def __init__(
        self,
        emitter: Emitter,
        bootstraps: tuple[str, ...],
        producers: list[Producer],
        policy: SwitchPolicy,
        clock=time.monotonic,
    ) -> None:
        self._emitter = emitter
        self.bootstraps = bootstraps
        self.producers = producers
        self.policy = policy
        self._clock = clock
        self.switches = 0
        self.reclaimed = 0  # events purged from a producer and sent again on the next
        self.maybe_duplicated = 0  # of those, the ones that may have been written already
        self.last_switch_s: float | None = None  # clock time of the last switch
        self._collecting: int | None = None  # the producer whose purged events we keep
        self._left_unreachable = False  # its cluster was down: queued ones may be retries
        self._returned: list[Item] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wk-failover", daemon=True)
        client = emitter.client_id
        _metrics.ACTIVE_CLUSTER.labels(client).set(0)

    @classmethod
    def of(cls, emitter: Emitter, clusters: Clusters, producers: list[Producer]) -> Failover | None:
        """The failover of an emitter with several clusters; None (no thread) with one."""
        if not clusters.multiple:
            return None
        policy = SwitchPolicy(len(producers), clusters.failover_after_s, clusters.failback_after_s)
        return cls(emitter, clusters.bootstraps, producers, policy)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * PROBE_TIMEOUT_S * len(self.producers) + SETTLE_S)
        _metrics.ACTIVE_CLUSTER.remove(self._emitter.client_id)

    # -- callbacks from librdkafka (threads that poll the producers) ---------------------

    def reclaim(self, index: int, err: KafkaError, msg: Any) -> bool:
        """Keep a purged event of the producer being left; True if it was kept."""
        if index != self._collecting or err.code() not in PURGED:
            return False
        self._returned.append((msg.topic(), msg.key(), msg.value()))
        if err.code() == KafkaError._PURGE_INFLIGHT or self._left_unreachable:
            self.maybe_duplicated += 1
        return True

    def all_brokers_down(self, index: int) -> None:
        self.policy.observe(index, False, self._clock())

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self._clock()
            try:
                self._probe_all()
                target = self.policy.decide(self._clock())
                if target is not None:
                    self.switch(target)
                for i, producer in enumerate(self.producers):
                    if i != self.policy.active:  # the pump serves the active one
                        producer.poll(0)
            except Exception:
                log.exception("failover thread error")
            self._stop.wait(max(0.0, PROBE_INTERVAL_S - (self._clock() - started)))

    def _probe_all(self) -> None:
        for i, producer in enumerate(self.producers):
            if self._stop.is_set():
                return
            try:
                producer.list_topics(timeout=PROBE_TIMEOUT_S)
                ok = True
            except KafkaException:
                ok = False
            self.policy.observe(i, ok, self._clock())

    def switch(self, target: int) -> None:
        """Move producing to cluster ``target``, re-sending what the old producer held."""
        emitter = self._emitter
        source = self.policy.active
        old, new = self.producers[source], self.producers[target]
        now = self._clock()
        down = self.policy.down_for(source, now)
        emitter._hold = True  # new events wait in the backlog until the returned ones went
        returned: list[Item] = []
        try:
            if target == 0 and down == 0:  # failing back from a healthy secondary
                old.flush(FAILBACK_FLUSH_S)
            self._left_unreachable = down > 0
            self._collecting = source
            emitter._producer = new
            self.policy.switched(target)
            self.last_switch_s = self._clock()
            # A caller that read the old producer just before the swap may still add one
            # event to it: the second purge takes that one too.
            for _ in range(2):
                purge(old, SETTLE_S)
        finally:
            self._collecting = None
            returned, self._returned = self._returned, []
            self.reclaimed += len(returned)
            try:
                emitter._backlog.requeue(returned, emitter._try_produce)
            finally:
                emitter._hold = False
        self.switches += 1
        client = emitter.client_id
        _metrics.ACTIVE_CLUSTER.labels(client).set(target)
        _metrics.FAILOVERS.labels(client, str(target)).inc()
        log.warning(
            "switched producing from cluster %d (%s) to %d (%s)",
            source,
            self.bootstraps[source],
            target,
            self.bootstraps[target],
            extra={
                "from": self.bootstraps[source],
                "to": self.bootstraps[target],
                "unreachable_s": round(down, 1),
                "resent": len(returned),
            },
        )
        emitter._routing.follow(emitter._settings_for(target))
