"""watchkeeper: the SDK inference services use, and the shared package of every service.

Public surface (``pip install watchkeeper``: confluent-kafka, fastavro, prometheus-client):

* :class:`Emitter` — report predictions, feedback and telemetry from an inference service;
  :class:`PredictionCall` is what ``Emitter.timed`` yields;
* :class:`Codec`, :class:`EventError` — the event contracts on the wire (the schemas ship in
  the package);
* :class:`KafkaSettings`, :class:`ConfigError` — how to reach the cluster (``KAFKA_*``);
* ``watchkeeper.topics`` — the declared topics.

``watchkeeper.runtime`` and the services need ``pip install 'watchkeeper[services]'``.

>>> import watchkeeper
>>> watchkeeper.Emitter.__name__
'Emitter'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .codec import Codec, EventError
    from .sdk import Emitter, PredictionCall
    from .settings import ConfigError, KafkaSettings

# Resolved on first access: every service and the CLI import ``watchkeeper.<module>``, which
# runs this file first, and most of them need neither fastavro nor librdkafka's producer.
_EXPORTS = {
    "Codec": "watchkeeper.codec",
    "EventError": "watchkeeper.codec",
    "Emitter": "watchkeeper.sdk",
    "PredictionCall": "watchkeeper.sdk",
    "ConfigError": "watchkeeper.settings",
    "KafkaSettings": "watchkeeper.settings",
}

__all__ = [
    "Codec",
    "ConfigError",
    "Emitter",
    "EventError",
    "KafkaSettings",
    "PredictionCall",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
