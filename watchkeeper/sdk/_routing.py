"""The SDK's reader of the routing topic: the live traffic split per model, in memory.

One daemon thread per emitter runs a confluent-kafka consumer that assigns itself every
partition of ``<prefix>routing`` from the beginning (a throwaway group id, nothing ever
committed) and then follows it, fetching with a short ``fetch.wait.max.ms`` so that a
change reaches every SDK well within a second. Callers only ever read a dict: assigning a
request never waits on Kafka.

* A record is a split (``Split.to_json``) keyed by its model; a tombstone removes the
  model's split (callers serve their default again).
* A record that is not a valid split (not JSON, weights not adding up to 100, a key that
  is not its model) is counted (``invalid``, ``wk_sdk_routing_invalid_total``), logged at
  most once a minute, and ignored: the model's previous split stays in force.
* While Kafka is away, or the topic does not exist yet, the last known splits stay in
  force and the thread retries quietly.

Without Kafka, records can be applied by hand (what the thread does with each one):

>>> from watchkeeper.settings import KafkaSettings
>>> from ._assignment import Split, Variant
>>> reader = RoutingReader(KafkaSettings("127.0.0.1:1"), "wk.routing", "doc")
>>> split = Split("fraud", (Variant("a", "1", 90.0), Variant("b", "2", 10.0)), seq=3)
>>> reader.apply(b"fraud", split.to_json())
>>> reader.split("fraud").seq
3
>>> reader.apply(b"fraud", b'{"model": "fraud", "variants": []}')  # refused, 3 stays
>>> reader.split("fraud").seq, reader.invalid
(3, 1)
>>> reader.apply(b"fraud", None)  # a tombstone
>>> reader.split("fraud") is None
True
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError
from confluent_kafka import TopicPartition as TP

from ..settings import KafkaSettings
from . import _metrics
from ._assignment import Split, SplitError
from ._shared import Quiet, librdkafka_log

log = logging.getLogger("watchkeeper.sdk.routing")

# Each Kafka round trip of set-up gets this long: the thread must notice close() soon.
_CALL_TIMEOUT_S = 1.0
_RETRY_S = (0.2, 5.0)  # first and longest pause between attempts to reach the topic


class RoutingReader:
    def __init__(
        self,
        settings: KafkaSettings,
        topic: str,
        client_id: str,
        consumer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.client_id = client_id
        self.invalid = 0
        self.records = 0
        self.kafka_errors = 0  # errors from librdkafka, which keeps retrying by itself
        self.ready = threading.Event()  # read up to the end offsets once
        self._settings = settings
        self._consumer_config = dict(consumer_config or {})
        # Replaced or mutated by the reader thread only; a dict lookup is atomic, so
        # readers need no lock and never wait.
        self._splits: dict[str, Split] = {}
        self._quiet = Quiet()
        self._invalid_metric = _metrics.ROUTING_INVALID.labels(client_id)
        self._stop = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- what the emitter calls -----------------------------------------------------------

    def start(self) -> None:
        """Start the thread if it is not running (cheap, idempotent, never blocks)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                _metrics.ROUTING_SPLITS.labels(self.client_id).set_function(
                    lambda: len(self._splits)
                )
                self._thread = threading.Thread(
                    target=self._run, name=f"wk-routing-{self.client_id}", daemon=True
                )
                self._thread.start()

    def split(self, model: str) -> Split | None:
        return self._splits.get(model)

    def splits(self) -> dict[str, Split]:
        return dict(self._splits)

    def wait_ready(self, timeout_s: float) -> bool:
        self.start()
        return self.ready.wait(timeout_s)

    def follow(self, settings: KafkaSettings, timeout_s: float = 5.0) -> None:
        """Read from another cluster from now on (the emitter switched): the thread, if
        it runs, starts again there; the splits known so far stay in force meanwhile."""
        with self._lock:
            if self._closed:
                return
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout_s)
        with self._lock:
            self._settings = settings
            if self._closed:
                return
            self._stop.clear()
        if thread is not None:
            self.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        with self._lock:
            self._closed = True
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            _metrics.ROUTING_SPLITS.remove(self.client_id)

    # -- one record ---------------------------------------------------------------------

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        self.records += 1
        try:
            model = key.decode() if key is not None else ""
        except UnicodeDecodeError:
            model = ""
        if not model:
            self._refuse(repr(key), "a routing record needs the model's name as its key")
            return
        if value is None:
            self._splits.pop(model, None)
            return
        try:
            split = Split.from_json(value)
        except SplitError as exc:
            self._refuse(model, str(exc))
            return
        if split.model != model:
            self._refuse(model, f"the record is the split of {split.model!r}")
            return
        self._splits[model] = split

    def _refuse(self, model: str, reason: str) -> None:
        self.invalid += 1
        self._invalid_metric.inc()
        self._quiet.warn(
            log,
            "invalid",
            "routing record for %s ignored, its previous split stays: %s",
            model,
            reason,
        )

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        consumer: Consumer | None = None
        pending: dict[int, int] | None = None  # partition -> end offset still to reach
        pause = _RETRY_S[0]
        try:
            while not self._stop.is_set():
                try:
                    if consumer is None:
                        consumer = Consumer(self._config())
                    if pending is None:
                        pending = self._assign(consumer)
                        if pending is None:  # no topic (yet): ask again later
                            self._stop.wait(pause)
                            pause = min(pause * 2, _RETRY_S[1])
                            continue
                        pause = _RETRY_S[0]
                    # consume(n, timeout) waits for n records or the timeout, whichever
                    # comes first: a lone change would wait the timeout out. poll returns
                    # with the first record; what queued behind it is taken without waiting.
                    first = consumer.poll(0.1)
                    if first is not None:
                        for message in [first, *consumer.consume(500, 0)]:
                            self._message(message, pending)
                    if not pending:
                        self.ready.set()
                except Exception as exc:  # Kafka away mid-set-up: keep the splits, retry
                    self._quiet.warn(log, "reader", "routing reader: %s (retrying)", exc)
                    self._stop.wait(pause)
                    pause = min(pause * 2, _RETRY_S[1])
        finally:
            if consumer is not None:
                try:
                    consumer.close()
                except Exception:  # closing is best effort; the thread is ending anyway
                    log.debug("routing consumer close failed", exc_info=True)

    def _message(self, message: Any, pending: dict[int, int]) -> None:
        error = message.error()
        partition = message.partition()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                pending.pop(partition, None)
            else:  # librdkafka retries transient errors itself
                self.kafka_errors += 1
                self._quiet.warn(log, error.name(), "routing topic: %s", error.str())
            return
        end = pending.get(partition)
        if end is not None and message.offset() + 1 >= end:
            del pending[partition]
        self.apply(message.key(), message.value())

    def _assign(self, consumer: Consumer) -> dict[int, int] | None:
        """Assign every partition from the beginning; partition -> its end offset now (for
        those holding anything), or None while the topic does not exist."""
        metadata = consumer.list_topics(self.topic, timeout=_CALL_TIMEOUT_S)
        found = metadata.topics.get(self.topic)
        if found is None or found.error is not None or not found.partitions:
            self._quiet.warn(
                log, "no_topic", "routing topic %s not found (yet); retrying", self.topic
            )
            return None
        partitions = sorted(found.partitions)
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TP(self.topic, p), timeout=_CALL_TIMEOUT_S)
            if high > low:
                ends[p] = high
        consumer.assign([TP(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        return ends

    def _config(self) -> dict[str, Any]:
        config = self._settings.confluent(
            **{
                "client.id": f"{self.client_id}-routing",
                # librdkafka wants a group id; nothing is ever committed under it.
                "group.id": f"wk-sdk-routing-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                # The broker answers a fetch at once when a record arrives; this bounds the
                # wait when none does, and with it how stale an idle reader can be.
                "fetch.wait.max.ms": 50,
                "fetch.error.backoff.ms": 100,
                "reconnect.backoff.max.ms": 1000,
                "error_cb": self._on_error,
                "logger": librdkafka_log,
            }
        )
        config.update(self._consumer_config)
        return config

    def _on_error(self, err: KafkaError) -> None:
        self.kafka_errors += 1
        self._quiet.warn(log, err.name(), "routing reader kafka error: %s", err.str())
