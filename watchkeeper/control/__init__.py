"""The control-plane base: event-sourced state behind an HTTP API with scoped tokens.

Kafka-free here (commands, events, the store and its overlay); the Kafka side is
:mod:`watchkeeper.control.journal`, the HTTP side :mod:`watchkeeper.control.api`, the
service that joins them :mod:`watchkeeper.control.service`, and the Python client
:mod:`watchkeeper.control.client`. See ``docs/control-plane.md``.
"""

from .commands import Command, Decision, Rejected
from .events import Answer, Audit, Entity, Event, EventError
from .store import Domain, Overlay, Store, View

__all__ = [
    "Answer",
    "Audit",
    "Command",
    "Decision",
    "Domain",
    "Entity",
    "Event",
    "EventError",
    "Overlay",
    "Rejected",
    "Store",
    "View",
]
