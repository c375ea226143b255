"""The rollout service's stream feeds (Kafka wiring): predictions and feedback, observed
for the analysis of the models rolling out now.

=============  ==========================================================================
predictions    records of models with no running rollout are skipped by their key (the
               model: the SDK keys by it) before decoding; the others are decoded and
               observed by variant and version. Read from the end on a first start, then
               from the group's committed offsets; evidence lives in memory, so after a
               restart a step gathers it again (its deadline keeps counting from the
               recorded start of the step)
feedback       joined to its prediction's arm by ``event_id`` (bounded memory of ids)
undecodable    counted in ``wk_rollout_records_unreadable_total``; the stream services
               dead-letter them, the rollout only observes
=============  ==========================================================================
"""

from __future__ import annotations

from confluent_kafka import Message
from prometheus_client import Counter

from watchkeeper.codec import Codec
from watchkeeper.control.feeds import TopicFeed
from watchkeeper.settings import ServiceSettings

from .analysis import Analyses

UNREADABLE = Counter(
    "wk_rollout_records_unreadable_total",
    "Records the rollout analysis could not decode (dead-lettered by the stream services).",
    ["topic"],
)
OBSERVED = Counter(
    "wk_rollout_observed_total", "Records observed by a running rollout's analysis.", ["topic"]
)


def _feed(settings: ServiceSettings, topic: str, analyses: Analyses, observe) -> TopicFeed:
    codec = Codec()
    unreadable, observed = UNREADABLE.labels(topic), OBSERVED.labels(topic)

    def handle(message: Message) -> list:
        key = message.key()
        if key is not None and key.decode("utf-8", "replace") not in analyses.models:
            return []
        try:
            record = codec.decode(message.value() or b"").record
        except Exception:  # any undecodable record: counted; the stream services report it
            unreadable.inc()
            return []
        observe(record)
        observed.inc()
        return []

    return TopicFeed(settings, topic, f"analysis.{topic}", handle, from_end=True)


def stream_feeds(settings: ServiceSettings, analyses: Analyses) -> list[TopicFeed]:
    return [
        _feed(settings, "predictions", analyses, analyses.observe_prediction),
        _feed(settings, "feedback", analyses, analyses.observe_feedback),
    ]
