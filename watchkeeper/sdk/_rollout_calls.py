"""The rollout side of the Emitter: which version serves a request (``assign``, by the
live split on the routing topic) and shadow models (``shadow``). A mixin, so that the
emitter's own module stays about emitting."""

from __future__ import annotations

import copy
import logging
from typing import Any

from ._routing import RoutingReader
from ._shadow import Shadow
from ._variant import Assignment, assignment_for, check_key

log = logging.getLogger("watchkeeper.sdk")


class RolloutCalls:
    _routing: RoutingReader
    _shadows: list[Shadow]

    def assign(self, model: str, key: str, default_version: str | None = None) -> Assignment:
        """The version and variant that serve ``key`` (a user, a session) for ``model``,
        by the live traffic split; sticky per key while the split stands.

        Never waits on Kafka: with no split known (none yet, a tombstone, Kafka never
        reached) it is ``Assignment(model, default_version, "default", 0)``.

        >>> from watchkeeper.sdk import Emitter
        >>> from watchkeeper.settings import KafkaSettings
        >>> emitter = Emitter(KafkaSettings("127.0.0.1:1"), buffer_size=10)
        >>> emitter.assign("fraud", "user-42", default_version="3.1.0")
        Assignment(model='fraud', version='3.1.0', variant='default', seq=0)
        >>> emitter.close(timeout=0)
        0
        """
        key = check_key(key)
        if not isinstance(model, str) or not model:
            raise ValueError(f"assign: model must be a non-empty string, got {model!r}")
        try:
            self._routing.start()
            split = self._routing.split(model)
        except Exception:  # a thread that cannot start must not break the caller
            log.exception("routing reader unavailable")
            split = None
        return assignment_for(split, model, key, default_version)

    def wait_for_routing(self, timeout_s: float) -> bool:
        """Start reading the routing topic (if not yet) and wait up to ``timeout_s`` until
        it was read up to its end once; True if so (for start-up and tests)."""
        return self._routing.wait_ready(timeout_s)

    def shadow(
        self,
        model: str,
        version: str,
        predict: Any,
        *,
        compare: Any = None,
        describe: Any = None,
        queue_size: int = 1000,
        workers: int = 1,
        copy_request: Any = copy.deepcopy,
    ) -> Shadow:
        """Run ``predict`` (the candidate ``version``) on copies of the primary's requests,
        off the caller's path; see :mod:`watchkeeper.sdk._shadow`. Closed with the emitter.
        ``copy_request=None`` hands requests over uncopied (for objects that cannot copy)."""
        shadow = Shadow(
            self,
            model,
            version,
            predict,
            compare=compare,
            describe=describe,
            queue_size=queue_size,
            workers=workers,
            copy_request=copy_request,
        )
        self._shadows.append(shadow)
        return shadow
