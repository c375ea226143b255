"""Flap damping: an alert that keeps changing state is held back and notified once.

Alertmanager forwards every state an alert goes through, so an alert that fires and
resolves every minute pages every group interval. Here, when an alert changes state more
than ``max_transitions`` times within ``window`` (by the alerts' own event times, so a
replay after a restart counts the same), it becomes *flapping*: the dispatcher sees it
firing with the annotation ``flapping: "true"`` (news to every receiver once), and its
further changes are held back. When it has not changed for ``window``, it is released in
its real latest state (a resolved notification if it settled resolved; nothing new if it
settled firing).

>>> from services.router.alert import Alert
>>> damper = FlapDamper(max_transitions=3, window_s=60.0)
>>> def state(firing, t):
...     return Alert("fp", firing, {"alertname": "X"}, {}, 0, None, int(t * 1000), "slo")
>>> [bool(damper.observe(state(f, t))) for f, t in
...  [(True, 0), (False, 5), (True, 10), (False, 15)]]
[True, True, True, True]
>>> shown = damper.observe(state(True, 20))   # the 4th change within 60 s
>>> shown.flapping, shown.firing, shown.annotations["flapping"]
(True, True, 'true')
>>> damper.observe(state(False, 25)) is None   # held back
True
>>> damper.next_deadline(), damper.due(84.0)
(85.0, [])
>>> [(a.fingerprint, a.firing, a.flapping) for a in damper.due(85.0)]
[('fp', False, False)]
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from .alert import Alert


@dataclass
class _Track:
    firing: bool
    changes: deque[float] = field(default_factory=deque)  # event times of state changes
    flapping: bool = False
    latest: Alert | None = None  # the real latest state, while flapping


class FlapDamper:
    def __init__(self, max_transitions: int, window_s: float) -> None:
        self.max_transitions = max_transitions
        self.window_s = window_s
        self._tracks: dict[str, _Track] = {}

    def __len__(self) -> int:
        """Alerts flapping now."""
        return sum(1 for t in self._tracks.values() if t.flapping)

    def flapping(self) -> list[str]:
        return sorted(fp for fp, t in self._tracks.items() if t.flapping)

    def observe(self, alert: Alert) -> Alert | None:
        """What the dispatcher should see of this state now; None: hold it back."""
        track = self._tracks.get(alert.fingerprint)
        t = alert.event_time_ms / 1000
        if track is None:
            if alert.firing:  # a resolved alert nobody knew of needs no history
                self._tracks[alert.fingerprint] = _Track(True)
            return alert
        if alert.firing != track.firing:
            track.firing = alert.firing
            track.changes.append(t)
        while track.changes and track.changes[0] <= t - self.window_s:
            track.changes.popleft()
        if track.flapping:
            track.latest = alert
            return None
        if len(track.changes) > self.max_transitions:
            track.flapping, track.latest = True, alert
            return replace(
                alert,
                firing=True,
                ends_at_ms=None,
                annotations={**alert.annotations, "flapping": "true"},
                flapping=True,
            )
        if not alert.firing and not track.changes:
            del self._tracks[alert.fingerprint]
        return alert

    def next_deadline(self) -> float | None:
        """When the next flapping alert will have been quiet for the window."""
        ends = [t.changes[-1] + self.window_s for t in self._tracks.values() if t.flapping]
        return min(ends, default=None)

    def due(self, now: float) -> list[Alert]:
        """Alerts that stopped flapping, in their real latest state."""
        released = []
        for fingerprint, track in list(self._tracks.items()):
            if not track.flapping or track.changes[-1] + self.window_s > now:
                continue
            assert track.latest is not None
            released.append(track.latest)
            track.flapping, track.latest = False, None
            track.changes.clear()
            if not track.firing:
                del self._tracks[fingerprint]
        return released
