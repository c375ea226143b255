"""The control-plane base: event-sourced state behind an HTTP API with scoped tokens.

Kafka-free here (commands, events, the store and its overlay); the Kafka side is
:mod:`watchkeeper.control.journal`, the HTTP side :mod:`watchkeeper.control.api`, the
service that joins them :mod:`watchkeeper.control.service`, and the Python client
:mod:`watchkeeper.control.client` (which needs only the base install: the names below are
loaded when first used, so importing the client loads none of the services' libraries).
See ``docs/control-plane.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Command": "commands",
    "Decision": "commands",
    "Dispatch": "commands",
    "Rejected": "commands",
    "Answer": "events",
    "Audit": "events",
    "Entity": "events",
    "Event": "events",
    "EventError": "events",
    "Domain": "store",
    "Overlay": "store",
    "Store": "store",
    "View": "store",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
