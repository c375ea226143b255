"""Running the system locally: a Kafka for one run, services as real processes, and an
on-call webhook receiver. Shared by the tests, the benchmarks and the demo, so that all
three start things the way production does, under a supervisor that restarts what exits."""

from ._processes import http_json, kafka_for_run, scrape
from ._receiver import Received, Response, WebhookReceiver
from ._service import Backoff, Restart, ServiceProcess, print_restart

__all__ = [
    "Backoff",
    "Received",
    "Response",
    "Restart",
    "ServiceProcess",
    "WebhookReceiver",
    "http_json",
    "kafka_for_run",
    "print_restart",
    "scrape",
]
