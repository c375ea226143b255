"""An alert as the router sees it: one state of one fingerprint, decoded from the topic.

>>> from watchkeeper.codec import Codec
>>> alert = Alert.from_event(Codec().registry.examples("Alert")["latency_firing"])
>>> alert.fingerprint, alert.status, alert.labels["model"]
('4b1c55e2a1f0d3c7', 'firing', 'fraud')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


# eq=False on purpose: the dispatcher asks "is this still the very alert I notified
# about?" (Alertmanager's delete-if-not-modified), which is a question of identity.
@dataclass(frozen=True, eq=False)
class Alert:
    fingerprint: str
    firing: bool
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at_ms: int
    ends_at_ms: int | None
    event_time_ms: int
    generator: str
    value: float | None = None
    threshold: float | None = None
    # Set by flap damping on the state it shows while the alert flaps (flapping.py).
    flapping: bool = False

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"

    @classmethod
    def from_event(cls, record: Mapping[str, Any]) -> Alert:
        """From a decoded ``Alert`` event (the codec has checked types and constraints)."""
        return cls(
            fingerprint=record["fingerprint"],
            firing=record["status"] == "FIRING",
            labels=dict(record["labels"]),
            annotations=dict(record.get("annotations") or {}),
            starts_at_ms=record["starts_at_ms"],
            ends_at_ms=record.get("ends_at_ms"),
            event_time_ms=record["event_time_ms"],
            generator=record["generator"],
            value=record.get("value"),
            threshold=record.get("threshold"),
        )

    def sort_key(self) -> tuple:
        """Alertmanager's order in a notification: job, then instance, then all labels."""
        # Alerts that carry job/instance come first, sorted by them; the fingerprint
        # breaks ties so that the same group always renders the same payload.
        job = self.labels.get("job")
        instance = self.labels.get("instance")
        return (
            job is None,
            job or "",
            instance is None,
            instance or "",
            sorted(self.labels.items()),
            self.fingerprint,
        )
