"""What keeps an alert or a route quiet now: time intervals of the route, silences and
inhibition per alert.

Resolved alerts are never muted: the receiver may have heard them fire before the
silence, and is to hear that they ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import metrics
from .alert import Alert
from .dispatch import Flush
from .inhibit import Inhibitor
from .routes import Route
from .silences import SilenceBook
from .timeintervals import TimeInterval


class Muting:
    def __init__(
        self,
        time_intervals: Mapping[str, TimeInterval],
        silences: SilenceBook,
        inhibitor: Inhibitor,
    ) -> None:
        self.time_intervals = time_intervals
        self.silences = silences
        self.inhibitor = inhibitor

    def route_muted(self, route: Route, now: float) -> str | None:
        """The time interval that mutes a route now, if any."""
        for name in route.opts.mute_time_intervals:
            if self.time_intervals[name].contains(now):
                return name
        active = route.opts.active_time_intervals
        if active and not any(self.time_intervals[n].contains(now) for n in active):
            return f"outside {', '.join(active)}"
        return None

    def muted_by(self, alert: Alert, now_ms: int) -> dict[str, Any]:
        found: dict[str, Any] = {}
        silenced = self.silences.silenced_by(alert.labels, now_ms)
        if silenced:
            found["silenced_by"] = silenced
        inhibitor = self.inhibitor.inhibited_by(alert)
        if inhibitor is not None:
            found["inhibited_by"] = inhibitor
        return found

    def view(self, flush: Flush, now_ms: int, count: bool = False) -> Flush:
        """The flush without its muted firing alerts."""
        shown = []
        for alert in flush.alerts:
            reason = self.muted_by(alert, now_ms) if alert.firing else {}
            if reason:
                if count:
                    kind = "silenced" if "silenced_by" in reason else "inhibited"
                    metrics.MUTED.labels(kind).inc()
                continue
            shown.append(alert)
        return Flush(flush.group, tuple(shown))
