"""The drill's inference traffic: steady predictions per model through one SDK emitter.

A model can be made to fail (``degrade``) at the moment of the disaster, so that the first
alert after it can only come from the cluster the system failed over to. The emitter is
the caller's: in the failover drill it is given both clusters and switches by itself.
"""

from __future__ import annotations

import random
import threading
import time

from ..sdk import Emitter


class Traffic:
    """``rate_per_s`` predictions a second for each model, from a thread, until ``stop``."""

    def __init__(
        self, emitter: Emitter, models: list[str], rate_per_s: float = 100.0, seed: int = 5
    ) -> None:
        self.emitter = emitter
        self.models = models
        self.rate_per_s = rate_per_s
        self.sent = 0
        self.degraded_since: dict[str, float] = {}
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-traffic", daemon=True)

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def degrade(self, model: str, error_rate: float = 0.4) -> None:
        self.degraded_since[model] = error_rate

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        period = 1.0 / self.rate_per_s
        next_at = time.monotonic()
        while not self._stop.is_set():
            for model in self.models:
                failing = self._rng.random() < self.degraded_since.get(model, 0.0)
                self.emitter.prediction(
                    model=model,
                    version="1",
                    latency_ms=self._rng.lognormvariate(0.0, 0.4) * 10.0,
                    score=self._rng.random(),
                    status="ERROR" if failing else "OK",
                    error_type="Timeout" if failing else None,
                )
                self.sent += 1
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()  # behind: do not burst to catch up
