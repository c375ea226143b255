"""The registry's two topic feeds (Kafka wiring): OpenLineage events from the ``lineage``
topic (OpenLineage's Kafka transport), and the live prediction streams counted from
``predictions``.

=================  ===========================================================================
lineage topic      each valid run event becomes a ``lineage.record`` command keyed by its
                   content (the same event again, by Kafka or HTTP, is recorded once); an
                   invalid one goes to the dead-letter topic naming the field; the offset is
                   committed after the command was answered (a crash re-reads, dedup holds)
predictions        counted per model and version on the feed's thread; once a second the
                   counts reach the graph (stream rates), and a stream's ``stream.seen`` is
                   recorded when first seen and then at most once a minute (last-seen
                   survives a restart; rates start again from live counts). An undecodable
                   prediction is counted in ``wk_registry_predictions_unreadable_total``
                   (the stream services dead-letter it); the registry only observes
=================  ===========================================================================
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Callable

from confluent_kafka import Message
from prometheus_client import Counter

from watchkeeper.codec import Codec
from watchkeeper.control import Command
from watchkeeper.control.feeds import FeedError, TopicFeed
from watchkeeper.settings import ServiceSettings

from .lineage import openlineage
from .lineage.openlineage import InvalidEvent
from .lineage_routes import lineage_command
from .lineage_view import Lineage

log = logging.getLogger(__name__)
UNREADABLE = Counter(
    "wk_registry_predictions_unreadable_total",
    "Prediction records the registry could not decode (dead-lettered by the stream services).",
)
RECORD_EVERY_MS = 60_000
# How our own events read (app.outbox writes compact JSON): skipped before the costly check.
OWN = b'"producer":"' + openlineage.PRODUCER.encode() + b'"'


def lineage_feed(settings: ServiceSettings) -> TopicFeed:
    def handle(message: Message) -> list[Command]:
        value = message.value() or b""
        if OWN in value:
            return []  # our own acts, sent in their transactions: recorded already
        try:
            event = openlineage.parse_body(value)
        except InvalidEvent as exc:
            raise FeedError(f"{exc.field}: {exc.reason}") from exc
        if event.get("producer") == openlineage.PRODUCER or "run" not in event:
            return []  # our own acts (recorded already), or not a run event
        where = f"{message.topic()}/{message.partition()}@{message.offset()}"
        return [lineage_command(event, "kafka", where, int(time.time() * 1000))]

    return TopicFeed(settings, "lineage", "lineage", handle)


class StreamCounts:
    """Counts per (model, version) between ticks, and when each stream was last recorded."""

    def __init__(self, lineage: Lineage, call_soon: Callable[[Callable[[], None]], None]):
        self.lineage = lineage
        self.call_soon = call_soon
        self.codec = Codec()
        self.counts: Tally[tuple[str, str]] = Tally()
        self.recorded: dict[tuple[str, str], int] = {}

    def handle(self, message: Message) -> list[Command]:
        try:
            record = self.codec.decode(message.value() or b"").record
            self.counts[(str(record["model"]), str(record["version"]))] += 1
        except Exception:  # any undecodable record: counted, the stream services report it
            UNREADABLE.inc()
        return []

    def tick(self, now_s: float) -> list[Command]:
        now_ms = int(now_s * 1000)
        counts, self.counts = self.counts, Tally()
        commands = []
        for (model, version), count in counts.items():
            self.call_soon(
                lambda m=model, v=version, c=count: self.lineage.observe(m, v, c, now_ms)
            )
            last = self.recorded.get((model, version))
            if last is None or now_ms - last >= RECORD_EVERY_MS:
                self.recorded[(model, version)] = now_ms
                body = {"model": model, "version": version, "last_seen_ms": now_ms}
                key = f"stream:{model}:{version}:{now_ms}"
                commands.append(Command("streams.seen", body, "predictions", key, at_ms=now_ms))
        return commands


def predictions_feed(settings: ServiceSettings, counts: StreamCounts) -> TopicFeed:
    # From the end: the registry wants what serves now, not a week of history.
    return TopicFeed(
        settings, "predictions", "streams", counts.handle, counts.tick, 1.0, from_end=True
    )
