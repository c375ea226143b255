"""Timing a predict call: the context manager and decorator behind Emitter.timed."""

from __future__ import annotations

import functools
import inspect
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._emitter import Emitter

# What a timed block that raised maps to; anything else is an ERROR.
_STATUS_BY_EXCEPTION = {TimeoutError: "TIMEOUT"}


class PredictionCall:
    """One timed prediction. Fields given to ``set`` are checked at once, so a wrong one
    raises ``ValueError`` where it was written, not when the block ends."""

    def __init__(self, emitter: Emitter, model: str, version: str, fields: dict[str, Any]) -> None:
        self._emitter = emitter
        self._fields: dict[str, Any] = {"model": model, "version": version, **fields}
        self._start = 0.0
        self.record: dict[str, Any] = {}
        self.event_id: str | None = None
        self._check(self._fields)

    def set(self, **fields: Any) -> None:
        merged = {**self._fields, **fields}
        self._check(merged)
        self._fields = merged

    def _check(self, fields: dict[str, Any]) -> None:
        # Build the event as prediction() would, with a placeholder latency, and validate.
        trial = {**fields, "latency_ms": 0.0}
        self._emitter._codec.encode("PredictionEvent", _to_record(trial, "check"))

    def __enter__(self) -> PredictionCall:
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: Any, tb: Any) -> bool:
        latency_ms = (time.perf_counter() - self._start) * 1000.0
        fields = {**self._fields, "latency_ms": latency_ms}
        if exc_type is not None:
            fields.setdefault("error_type", exc_type.__name__)
            fields["status"] = next(
                (s for t, s in _STATUS_BY_EXCEPTION.items() if issubclass(exc_type, t)), "ERROR"
            )
        self.event_id = fields.pop("event_id", None) or self._emitter._new_id()
        self.record = _to_record({**fields, "event_id": self.event_id}, self.event_id)
        try:
            value = self._emitter._codec.encode("PredictionEvent", self.record, validate=False)
            self._emitter._send_encoded("predictions", self.record["model"], value)
        except Exception:
            self._emitter._count_drop("encode_error", 1)
        return False


def _to_record(fields: dict[str, Any], event_id: str) -> dict[str, Any]:
    """Map Emitter.prediction()'s keyword names onto the PredictionEvent fields."""
    record = dict(fields)
    record.setdefault("event_id", event_id)
    record.setdefault("event_time_ms", time.time_ns() // 1_000_000)
    record.setdefault("status", "OK")
    if "label" in record:
        record["prediction_label"] = record.pop("label")
    if "value" in record:
        record["prediction_value"] = record.pop("value")
    return record


def instrument(emitter: Emitter, model: str, version: str, describe: Any, fields: dict[str, Any]):
    def decorate(fn):
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with emitter.timed(model=model, version=version, **fields) as call:
                    result = await fn(*args, **kwargs)
                    if describe is not None:
                        call.set(**describe(result, *args, **kwargs))
                    return result

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with emitter.timed(model=model, version=version, **fields) as call:
                result = fn(*args, **kwargs)
                if describe is not None:
                    call.set(**describe(result, *args, **kwargs))
                return result

        return wrapper

    return decorate
