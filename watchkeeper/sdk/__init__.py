"""The emitter SDK for inference services.

>>> from watchkeeper.sdk import Emitter
>>> emitter = Emitter(buffer_size=1000)          # KAFKA_* from the environment  # doctest: +SKIP
>>> emitter.prediction(model="fraud", version="3", latency_ms=12.5, label="legit")  # doctest: +SKIP
"""

from ._assignment import Split, SplitError, Variant
from ._emitter import Emitter
from ._shadow import Shadow, ShadowReport
from ._timer import PredictionCall
from ._variant import Assignment

__all__ = [
    "Assignment",
    "Emitter",
    "PredictionCall",
    "Shadow",
    "ShadowReport",
    "Split",
    "SplitError",
    "Variant",
]
