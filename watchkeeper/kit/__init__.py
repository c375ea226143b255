"""The service kit: what every service's domain code is built from, with no Kafka in it.

* ``Task`` / ``BaseTask``, ``Output``, ``key_text`` — the unit an engine feeds
  (``kit.task``);
* ``StreamClock``, ``close_due`` — event-time windows, the stream clock and its idle
  advance (``kit.streamtime``);
* ``AlertEmitter`` — fingerprint, ``Alert`` record, output and metric in one call
  (``kit.alerting``);
* ``Hysteresis`` — fires after N evaluations, resolves after M (``kit.hysteresis``);
* ``permodel.load`` / ``PerModel`` — defaults and per-model YAML with file:line errors;
* ``ServiceSpec``, ``Parts``, ``Setting``, ``Route`` — a service declared once, run by
  ``watchkeeper.runtime.run(spec)``.

Nothing here imports ``confluent_kafka``, ``faust`` or ``aiokafka`` (a test checks it), so
domain code is tested and benchmarked alone.
"""

from .alerting import AlertEmitter, fingerprint, prometheus_count
from .hysteresis import Hysteresis
from .permodel import PerModel
from .routes import Request, Response, Route
from .spec import Beside, Parts, ServiceSpec, Setting
from .streamtime import StreamClock, close_due
from .task import BaseTask, Change, Output, Task, key_text

__all__ = [
    "AlertEmitter",
    "BaseTask",
    "Beside",
    "Change",
    "Hysteresis",
    "Output",
    "Parts",
    "PerModel",
    "Request",
    "Response",
    "Route",
    "ServiceSpec",
    "Setting",
    "StreamClock",
    "Task",
    "close_due",
    "fingerprint",
    "key_text",
    "prometheus_count",
]
