"""Emitter: what an inference service calls to report predictions, labels and telemetry."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from functools import partial
from itertools import count
from typing import Any

from confluent_kafka import KafkaError, Producer

from ..codec import Codec
from ..settings import KafkaSettings, topic_prefix
from . import _metrics
from ._buffer import Backlog, Item, split_capacity
from ._failover import Failover
from ._producers import new_producer, on_cluster, purge, resolve_clusters
from ._rollout_calls import RolloutCalls
from ._routing import RoutingReader
from ._shadow import Shadow
from ._shared import default_codec
from ._timer import PredictionCall
from ._variant import Assignment, resolve

log = logging.getLogger("watchkeeper.sdk")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Emitter(RolloutCalls):
    """Sends events to Kafka without ever blocking or breaking the caller.

    * Each call validates its fields and raises ``ValueError`` naming the wrong one;
      that is the only exception an emit call raises.
    * Events go to a confluent-kafka producer (idempotent, ``acks=all``, batched, lz4).
    * While Kafka is unreachable at most ``buffer_size`` events are held; beyond that the
      oldest are dropped. Every drop is counted: :attr:`dropped`, :meth:`drops` and the
      ``wk_sdk_events_dropped_total`` metric.
    * :meth:`close` flushes with a deadline and counts what it could not deliver. It also
      runs at interpreter exit.

    ``producer_config`` entries are passed to librdkafka last, so they win; cluster and
    SASL/SSL settings come from ``settings`` (by default ``KAFKA_*`` in the environment).
    ``routing_config`` does the same for the consumer of the routing topic (``assign``).
    ``clusters`` (the primary first; default ``WK_KAFKA_CLUSTERS``) turns on failover
    after ``failover_after_s`` and failback after ``failback_after_s`` (``_failover.py``).
    """

    def __init__(
        self,
        settings: KafkaSettings | None = None,
        *,
        prefix: str | None = None,
        buffer_size: int = 100_000,
        client_id: str = "watchkeeper-sdk",
        codec: Codec | None = None,
        close_timeout_s: float = 5.0,
        producer_config: Mapping[str, Any] | None = None,
        routing_config: Mapping[str, Any] | None = None,
        clusters: Sequence[str] | None = None,
        failover_after_s: float | None = None,
        failback_after_s: float | None = None,
    ) -> None:
        settings, self._clusters = resolve_clusters(
            settings, clusters, failover_after_s, failback_after_s
        )
        self._settings = settings
        prefix = topic_prefix() if prefix is None else prefix
        # Opens no consumer until the first assign (an emitter that never assigns never reads).
        self._routing = RoutingReader(
            self._settings_for(0), prefix + "routing", client_id, routing_config
        )
        self._shadows: list[Shadow] = []
        self._topics = {name: prefix + name for name in ("predictions", "feedback", "telemetry")}
        self._codec = codec or default_codec()
        self.client_id = client_id
        self.buffer_size = buffer_size
        self.close_timeout_s = close_timeout_s
        window, backlog = split_capacity(buffer_size)
        self._window = window
        self._drops: dict[str, int] = {}
        self._drop_lock = threading.Lock()
        self._emitted = 0
        self._last_error_log: dict[str, float] = {}
        self._backlog = Backlog(backlog, lambda n: self._count_drop("buffer_full", n))
        self._hold = False  # set by a switch of cluster: events wait in the backlog
        self._producers = [
            self._new_producer(i, producer_config) for i in range(len(self._clusters.bootstraps))
        ]
        self._producer = self._producers[0]
        self._failover = Failover.of(self, self._clusters, self._producers)
        self._ids = count()
        self._id_prefix = os.urandom(8).hex() + "-"
        self._emitted_metric = {
            name: _metrics.EMITTED.labels(client_id, topic) for name, topic in self._topics.items()
        }
        _metrics.BUFFERED.labels(client_id).set_function(lambda: self.buffered)
        self._closed = False
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._run_pump, name="wk-emitter", daemon=True)
        self._pump.start()
        if self._failover is not None:
            self._failover.start()
        atexit.register(self._close_at_exit)

    def _settings_for(self, index: int) -> KafkaSettings:
        return on_cluster(self._settings, self._clusters.bootstraps[index])

    def _new_producer(self, i: int, extra: Mapping[str, Any] | None) -> Producer:
        callbacks = partial(self._on_delivery, i), partial(self._on_error, i)
        return new_producer(self._settings_for(i), self.client_id, self._window, *callbacks, extra)

    # -- public API -------------------------------------------------------------------

    def prediction(
        self,
        *,
        model: str | None = None,
        version: str | None = None,
        latency_ms: float,
        label: str | None = None,
        value: float | None = None,
        score: float | None = None,
        num_features: Mapping[str, float] | None = None,
        cat_features: Mapping[str, str] | None = None,
        segments: Mapping[str, str] | None = None,
        variant: str | None = None,
        assignment: Assignment | None = None,
        region: str | None = None,
        tenant: str | None = None,
        user_id: str | None = None,
        use_case: str | None = None,
        status: str = "OK",
        error_type: str | None = None,
        llm: Mapping[str, Any] | None = None,
        cost_usd: float | None = None,
        cache_hit: bool = False,
        fallback_used: bool = False,
        input_hash: str | None = None,
        event_id: str | None = None,
        event_time_ms: int | None = None,
    ) -> str:
        """Emit one PredictionEvent; return its ``event_id`` (feedback refers to it).

        ``assignment`` (from :meth:`assign`) sets model, version and variant; an explicit
        one that contradicts it raises ``ValueError``. ``llm`` is ``{"provider_model": ...,
        "tokens_in": ..., "tokens_out": ..., "tokens_cached": ...}`` for LLM calls.
        """
        model, version, variant = resolve(assignment, model, version, variant)
        event_id = event_id if event_id is not None else self._new_id()
        record = {
            "event_id": event_id,
            "event_time_ms": event_time_ms if event_time_ms is not None else _now_ms(),
            "model": model,
            "version": version,
            "variant": variant,
            "region": region,
            "tenant": tenant,
            "user_id": user_id,
            "use_case": use_case,
            "segments": segments if segments is not None else {},
            "num_features": num_features if num_features is not None else {},
            "cat_features": cat_features if cat_features is not None else {},
            "prediction_label": label,
            "prediction_value": value,
            "score": score,
            "latency_ms": latency_ms,
            "status": status,
            "error_type": error_type,
            "llm": llm,
            "cost_usd": cost_usd,
            "cache_hit": cache_hit,
            "fallback_used": fallback_used,
            "input_hash": input_hash,
        }
        self._send("predictions", "PredictionEvent", model, record)
        return event_id

    def feedback(
        self,
        *,
        event_id: str,
        model: str,
        label: str | None = None,
        value: float | None = None,
        version: str | None = None,
        event_time_ms: int | None = None,
    ) -> None:
        """Emit the ground truth for the prediction ``event_id``."""
        record = {
            "event_id": event_id,
            "event_time_ms": event_time_ms if event_time_ms is not None else _now_ms(),
            "model": model,
            "version": version,
            "label": label,
            "value": value,
        }
        self._send("feedback", "FeedbackEvent", model, record)

    def telemetry(self, *, host: str, model: str, version: str, **fields: Any) -> None:
        """Emit one TelemetryEvent. ``fields`` are the schema's optional fields
        (``cpu_utilization``, ``memory_bytes``, ``gpu_utilization``, ``queue_depth``,
        ``replicas``, ``instance_type``, ``spot``, ``hourly_price_usd`` ...)."""
        record = {"host": host, "model": model, "version": version, **fields}
        record.setdefault("event_id", self._new_id())
        record.setdefault("event_time_ms", _now_ms())
        self._send("telemetry", "TelemetryEvent", model, record)

    def timed(
        self,
        *,
        model: str | None = None,
        version: str | None = None,
        assignment: Assignment | None = None,
        **fields: Any,
    ) -> PredictionCall:
        """Time a predict call; emit one prediction when the block ends.

        >>> emitter = Emitter(KafkaSettings("127.0.0.1:1"), buffer_size=10)
        >>> with emitter.timed(model="fraud", version="3") as call:
        ...     call.set(label="legit", score=0.9)
        >>> call.record["status"], call.record["latency_ms"] >= 0
        ('OK', True)
        >>> emitter.close(timeout=0)
        1
        """
        model, version, fields["variant"] = resolve(
            assignment, model, version, fields.pop("variant", None)
        )
        return PredictionCall(self, model, version, fields)

    def instrument(
        self,
        *,
        model: str | None = None,
        version: str | None = None,
        describe: Any = None,
        assignment: Assignment | None = None,
        **fields: Any,
    ):
        """Decorator form of :meth:`timed`. ``describe(result, *args, **kwargs)`` may
        return prediction fields (``label``, ``score``, ``num_features`` ...)."""
        from ._timer import instrument

        model, version, fields["variant"] = resolve(
            assignment, model, version, fields.pop("variant", None)
        )
        return instrument(self, model, version, describe, fields)

    @property
    def dropped(self) -> int:
        """Events given up on since this emitter was created."""
        with self._drop_lock:
            return sum(self._drops.values())

    def drops(self) -> dict[str, int]:
        """Dropped events by reason (``buffer_full``, ``closed``, librdkafka error names)."""
        with self._drop_lock:
            return dict(self._drops)

    @property
    def active_cluster(self) -> str:
        """The bootstrap string of the cluster events go to now."""
        return self._clusters.bootstraps[self._producers.index(self._producer)]

    @property
    def failover(self) -> Failover | None:
        """The failover state (switches, reclaimed, maybe_duplicated), None with one cluster."""
        return self._failover

    @property
    def emitted(self) -> int:
        return self._emitted

    @property
    def buffered(self) -> int:
        """Events held now: in librdkafka's queue or in the backlog behind it."""
        if self._closed:
            return 0
        # librdkafka's queue length also counts its own requests (while it connects, say),
        # and it never holds more events than its window: that caps the first term.
        return min(len(self._producer), self._window) + len(self._backlog)

    def flush(self, timeout: float = 5.0) -> int:
        """Wait up to ``timeout`` s for everything held to be delivered; return what is left."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._hold:
                self._backlog.drain(self._try_produce)
            left = time.monotonic() - deadline
            remaining = self._producer.flush(max(0.0, min(0.1, -left)))
            if (remaining == 0 and len(self._backlog) == 0) or left >= 0:
                return remaining + len(self._backlog)

    def close(self, timeout: float | None = None) -> int:
        """Flush for at most ``timeout`` s, then drop and count what is still held.

        Returns the number of events that were not delivered. Safe to call twice.
        """
        if self._closed:
            return 0
        before = self.dropped
        deadline = time.monotonic() + (self.close_timeout_s if timeout is None else timeout)
        # Shadows first: what their queued requests emit is flushed with the rest.
        for shadow in self._shadows:
            shadow.close(max(0.0, deadline - time.monotonic()))
        self._routing.stop()
        if self._failover is not None:
            self._failover.stop()  # no switch under a closing emitter
        left = self.flush(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        self._pump.join(timeout=1.0)
        # Purged messages come back through on_delivery as _PURGE_* failures: counted.
        for producer in self._producers:
            if left or producer is not self._producer:
                purge(producer, settle_s=1.0)
        self._count_drop("closed", self._backlog.clear())
        self._closed = True
        atexit.unregister(self._close_at_exit)
        _metrics.BUFFERED.remove(self.client_id)
        return self.dropped - before

    def __enter__(self) -> Emitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids):x}"

    def _send(self, topic: str, schema: str, key: str, record: Mapping[str, Any]) -> None:
        value = self._codec.encode(schema, record)  # ValueError names the field
        self._enqueue((self._topics[topic], key.encode(), value))
        self._emitted += 1
        self._emitted_metric[topic].inc()

    def _send_encoded(self, topic: str, key: str, value: bytes) -> None:
        self._enqueue((self._topics[topic], key.encode(), value))
        self._emitted += 1
        self._emitted_metric[topic].inc()

    def _enqueue(self, item: Item) -> None:
        if self._closed:
            self._count_drop("closed", 1)
            return
        # Straight to librdkafka unless older events wait in the backlog (order matters).
        if len(self._backlog) == 0 and not self._hold and self._try_produce(item):
            return
        self._backlog.push(item)

    def _try_produce(self, item: Item) -> bool:
        try:
            self._producer.produce(item[0], item[2], item[1])
            return True
        except BufferError:
            return False

    def _run_pump(self) -> None:
        # Serves delivery reports and logs, and moves the backlog on once Kafka is back,
        # also when the caller has stopped emitting.
        while not self._stop.is_set():
            try:
                self._producer.poll(0.05)
                if len(self._backlog) and not self._hold:
                    self._backlog.drain(self._try_produce)
            except Exception:
                log.exception("emitter pump error")
                time.sleep(0.05)

    def _on_delivery(self, index: int, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            if self._failover is not None and self._failover.reclaim(index, err, msg):
                return  # taken back from a cluster being left: sent again on the next
            self._count_drop(err.name() or "delivery_failed", 1)

    def _on_error(self, index: int, err: KafkaError) -> None:
        # Unreachable brokers land here, again at every reconnect attempt: the buffer
        # absorbs it, and one log line per kind of error a minute says so.
        if self._failover is not None and err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._failover.all_brokers_down(index)
        now = time.monotonic()
        key = f"{index}:{err.name()}"
        if now - self._last_error_log.get(key, -60.0) >= 60.0:
            self._last_error_log[key] = now
            extra = {"code": err.name(), "cluster": self._clusters.bootstraps[index]}
            log.warning("kafka client error: %s", err.str(), extra=extra)

    def _count_drop(self, reason: str, n: int) -> None:
        if n <= 0:
            return
        with self._drop_lock:
            self._drops[reason] = self._drops.get(reason, 0) + n
        _metrics.DROPPED.labels(self.client_id, reason).inc(n)

    def _close_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
