"""The emitter SDK for inference services.

>>> from watchkeeper.sdk import Emitter
>>> emitter = Emitter(buffer_size=1000)          # KAFKA_* from the environment  # doctest: +SKIP
>>> emitter.prediction(model="fraud", version="3", latency_ms=12.5, label="legit")  # doctest: +SKIP

The names load on first use: the Kafka-free parts (``watchkeeper.sdk._assignment``, the
split every service and SDK shares) import no Kafka client.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Assignment": "._variant",
    "Emitter": "._emitter",
    "PredictionCall": "._timer",
    "Shadow": "._shadow",
    "ShadowReport": "._shadow",
    "Split": "._assignment",
    "SplitError": "._assignment",
    "Variant": "._assignment",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'watchkeeper.sdk' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name], __name__), name)
