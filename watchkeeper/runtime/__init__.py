"""The runtime every watchkeeper service shares: ``run(spec)`` and the two engines.

``run(spec)`` turns a :class:`~watchkeeper.kit.ServiceSpec` into a running process: the
command line, configuration errors as exit 2, logs, /metrics and /healthz with the routes
the service adds, topics, and the engine that feeds its tasks — ``BatchService`` (the
confluent-kafka batch engine, exactly-once state; the prediction streams) or
``TaskService`` (Faust, at-least-once; light, timer-driven streams): the same tasks run
on either. Names are loaded on first use, so importing the package loads neither engine.
"""

from __future__ import annotations

from typing import Any

_WHERE = {
    "BatchService": ".batch",
    "Health": ".http",
    "ServiceHTTP": ".http",
    "Service": ".service",
    "TaskService": ".service",
    "create_app": ".faust_app",
    "dead_letter_headers": ".dlq",
    "main": ".entry",
    "run": ".entry",
    "ServiceSettings": "..settings",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(where, __name__), name)
