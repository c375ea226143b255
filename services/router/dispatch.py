"""Aggregation groups and their timers, as Alertmanager's dispatcher runs them.

An alert joins one group per matching route: the group of the route and the values of the
route's ``group_by`` labels. A group flushes (hands a snapshot of its alerts to the
notifier) first ``group_wait`` after it was created, then every ``group_interval``. Whether
a flush becomes a notification (something changed, or ``repeat_interval`` is up) is the
notification log's call, per receiver: see ``nflog.needs_update``.

Nothing here sleeps or reads a clock of its own: callers pass ``now`` and ask
:meth:`Dispatcher.next_deadline` when to come back, so tests drive time by hand.

>>> from services.router.routes import Route, RouteSpec
>>> root = Route(RouteSpec(receiver="oncall", group_by=("model",), group_wait=30.0))
>>> d = Dispatcher(root)
>>> def alert(fp, model, t):
...     return Alert(fp, True, {"alertname": "Latency", "model": model}, {}, t, None, t, "slo")
>>> d.insert(alert("a", "fraud", 1_000_000), now=1000.0)
>>> d.insert(alert("b", "fraud", 1_000_000), now=1010.0)
>>> d.next_deadline(), d.due(now=1029.0)
(1030.0, [])
>>> [(f.group_key, len(f.alerts)) for f in d.due(now=1030.0)]
[('{}:{model="fraud"}', 2)]
>>> d.next_deadline()  # then every group_interval (5 m by default)
1330.0
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from .alert import Alert
from .matchers import go_quote
from .routes import Route


def format_labelset(labels: Mapping[str, str]) -> str:
    """Prometheus' rendering of a label set: sorted, ``", "`` between pairs, Go quoting.

    >>> format_labelset({"model": "fraud", "alertname": "HighLatencyP99"})
    '{alertname="HighLatencyP99", model="fraud"}'
    """
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(labels.items())) + "}"


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """Alertmanager's group key, ``<route key>:<group labels>``; receivers dedup on it."""
    return f"{route.key}:{format_labelset(labels)}"


@dataclass(frozen=True, eq=False)
class Flush:
    """A snapshot of one group, handed to the notifier."""

    group: AggregationGroup
    alerts: tuple[Alert, ...]  # in notification order

    @property
    def group_key(self) -> str:
        return self.group.key

    @property
    def route(self) -> Route:
        return self.group.route

    @property
    def labels(self) -> Mapping[str, str]:
        return self.group.labels


class AggregationGroup:
    def __init__(self, route: Route, labels: dict[str, str], created_at: float) -> None:
        self.route = route
        self.labels = labels
        self.key = group_key(route, labels)
        self.alerts: dict[str, Alert] = {}
        self.has_flushed = False
        self.next_flush = created_at + route.opts.group_wait

    def insert(self, alert: Alert, now: float) -> bool:
        """Add or update an alert; True when this pulled the first flush forward."""
        known = self.alerts.get(alert.fingerprint)
        if known is not None and known.event_time_ms > alert.event_time_ms:
            return False  # an older state arriving late must not undo a newer one
        self.alerts[alert.fingerprint] = alert
        # As Alertmanager: an alert that has been firing for longer than group_wait
        # already (a restart, a late delivery) does not wait again.
        waited = alert.starts_at_ms / 1000 + self.route.opts.group_wait < now
        if not self.has_flushed and waited and now < self.next_flush:
            self.next_flush = now
            return True
        return False

    def snapshot(self) -> Flush:
        return Flush(self, tuple(sorted(self.alerts.values(), key=Alert.sort_key)))


class Dispatcher:
    """Every aggregation group, and a heap of when each is due."""

    def __init__(self, root: Route) -> None:
        self.root = root
        self.groups: dict[tuple[str, tuple[tuple[str, str], ...]], AggregationGroup] = {}
        self.by_key: dict[str, AggregationGroup] = {}  # the same groups, by group key
        self._timers: list[tuple[float, int, tuple]] = []
        self._seq = itertools.count()

    def insert(self, alert: Alert, now: float) -> None:
        for route in self.root.match(alert.labels):
            labels = route.group_labels(alert.labels)
            gid = (route.id, tuple(sorted(labels.items())))
            group = self.groups.get(gid)
            if group is None:
                group = self.groups[gid] = AggregationGroup(route, labels, now)
                self.by_key[group.key] = group
                group.insert(alert, now)
                self._schedule(gid, group)
            elif group.insert(alert, now):
                self._schedule(gid, group)

    def next_deadline(self) -> float | None:
        """When :meth:`due` next has something to return (None: no groups)."""
        while self._timers:
            at, _, gid = self._timers[0]
            group = self.groups.get(gid)
            if group is not None and group.next_flush == at:
                return at
            heapq.heappop(self._timers)  # stale: the group went away or was rescheduled
        return None

    def due(self, now: float) -> list[Flush]:
        """Snapshot every group whose timer has expired, and restart those timers."""
        flushes = []
        while (deadline := self.next_deadline()) is not None and deadline <= now:
            _, _, gid = heapq.heappop(self._timers)
            group = self.groups[gid]
            group.has_flushed = True
            group.next_flush = now + group.route.opts.group_interval
            self._schedule(gid, group)
            if group.alerts:
                flushes.append(group.snapshot())
        return flushes

    def done(self, flush: Flush, ok: bool) -> None:
        """The notifier is through with ``flush``; ``ok`` if every receiver got it.

        Resolved alerts are then forgotten, unless they changed since the snapshot (they
        may have fired again meanwhile); a group left empty is removed.
        """
        group = flush.group
        gid = (group.route.id, tuple(sorted(group.labels.items())))
        if not ok or self.groups.get(gid) is not group:
            return
        for alert in flush.alerts:
            if not alert.firing and group.alerts.get(alert.fingerprint) is alert:
                del group.alerts[alert.fingerprint]
        if not group.alerts:
            del self.groups[gid]
            if self.by_key.get(group.key) is group:
                del self.by_key[group.key]

    def __len__(self) -> int:
        return len(self.groups)

    def _schedule(self, gid: tuple, group: AggregationGroup) -> None:
        heapq.heappush(self._timers, (group.next_flush, next(self._seq), gid))
