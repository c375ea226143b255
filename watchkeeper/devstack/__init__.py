"""Running the system locally: a Kafka for one run, services as real processes, and an
on-call webhook receiver. Shared by the tests, the benchmarks and the demo, so that all
three start things the way production does."""

from ._processes import ServiceProcess, http_json, kafka_for_run, scrape
from ._receiver import Received, Response, WebhookReceiver

__all__ = [
    "Received",
    "Response",
    "ServiceProcess",
    "WebhookReceiver",
    "http_json",
    "kafka_for_run",
    "scrape",
]
