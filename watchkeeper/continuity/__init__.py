"""Degraded mode for inference services: guard a model call with a deadline, a circuit
breaker, a fallback chain (simpler models, cached results, a human) and one prediction
event per call recording which path answered.

>>> from watchkeeper.continuity import Guard, Breaker, ResultCache
>>> guard = Guard(lambda f: "legit", model="fraud", breaker=Breaker(min_calls=10),
...               cache=ResultCache(maxsize=1000, ttl_s=600, name="doc-init"))
>>> guard({"amount": 12.5})
'legit'

Kafka-free except for the default publisher of :class:`HumanReview` (imported on use).
See docs/continuity.md.
"""

from __future__ import annotations

from ._deadline import DeadlineExceeded, DeadlinePool
from ._keys import Unkeyable, feature_key
from .breaker import Breaker, BreakerOpen
from .cache import ResultCache
from .fallback import AllFallbacksFailed, Step
from .guard import AsyncGuard, Guard
from .human import HumanReview, Pending

__all__ = [
    "AllFallbacksFailed",
    "AsyncGuard",
    "Breaker",
    "BreakerOpen",
    "DeadlineExceeded",
    "DeadlinePool",
    "Guard",
    "HumanReview",
    "Pending",
    "ResultCache",
    "Step",
    "Unkeyable",
    "feature_key",
]
