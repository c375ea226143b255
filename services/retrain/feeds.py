"""The retrain service's feed (Kafka wiring): ``retrain-requests`` (the drift service's
and anyone's), each a trigger of its model.

=================  ======================================================================
a request          ``triggers.add`` with the request's ``dedup_key``: the same incident
                   again merges into the run that took it (ten identical requests, one
                   run); the command's key is the request id, so a request read twice
                   after a crash is recorded once; the offset is committed after
                   the command was answered
undecodable        dead-lettered with the reason (the codec names the field)
=================  ======================================================================
"""

from __future__ import annotations

from confluent_kafka import Message

from watchkeeper.codec import Codec
from watchkeeper.control import Command
from watchkeeper.control.feeds import FeedError, TopicFeed
from watchkeeper.settings import ServiceSettings

KINDS = {"DRIFT": "drift", "PERFORMANCE": "performance", "SCHEDULE": "schedule",
         "NEW_DATA": "new_data", "MANUAL": "manual"}  # fmt: skip


def request_command(record: dict) -> Command:
    evidence = {**record.get("evidence", {}),
                **{k: f"{v:g}" for k, v in record.get("metrics", {}).items()}}  # fmt: skip
    reason = "; ".join(f"{k} {v}" for k, v in sorted(evidence.items())) or record["reason"]
    body = {
        "model": record["model"],
        "version": record["version"],
        "kind": KINDS[record["reason"]],
        "reason": reason,
        "dedup_key": record["dedup_key"],
        "evidence": evidence,
    }
    return Command("triggers.add", body, record["requested_by"],
                   f"request:{record['request_id']}", source="retrain-requests",
                   at_ms=record["event_time_ms"])  # fmt: skip


def requests_feed(settings: ServiceSettings) -> TopicFeed:
    codec = Codec()

    def handle(message: Message) -> list[Command]:
        try:
            record = codec.decode_as("RetrainRequest", message.value() or b"")
        except Exception as exc:  # the codec's reason names the field
            raise FeedError(f"not a RetrainRequest: {exc}") from exc
        return [request_command(record)]

    return TopicFeed(settings, "retrain-requests", "requests", handle)
