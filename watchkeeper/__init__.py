"""watchkeeper: the shared package of every service, and the SDK inference services use.

Public surface:

* :class:`Emitter` — report predictions, feedback and telemetry from an inference service;
* :class:`Codec`, :class:`EventError` — the event contracts on the wire;
* :class:`KafkaSettings` — how to reach the cluster (``KAFKA_*``);
* ``watchkeeper.topics`` — the declared topics; ``watchkeeper.runtime`` — the service runtime.
"""

from .codec import Codec, EventError
from .sdk import Emitter
from .settings import ConfigError, KafkaSettings

__version__ = "0.1.0"

__all__ = ["Codec", "ConfigError", "Emitter", "EventError", "KafkaSettings", "__version__"]
