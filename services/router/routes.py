"""The routing tree: which receiver gets an alert, grouped how, on which timers.

It behaves as Alertmanager's: a depth-first, left-to-right search where the first matching
child wins unless it says ``continue``; a route none of whose children match is itself the
match; children inherit the receiver, ``group_by`` and the three timers from their parent.

>>> from services.router.matchers import parse_matchers
>>> root = Route(RouteSpec(receiver="default", group_by=("alertname",), routes=(
...     RouteSpec(matchers=tuple(parse_matchers('team="risk"')), receiver="risk",
...               group_wait=0.0, continue_=True),
...     RouteSpec(matchers=tuple(parse_matchers('severity="page"')), receiver="pager"),
... )))
>>> [r.opts.receiver for r in root.match({"team": "risk", "severity": "page"})]
['risk', 'pager']
>>> [r.opts.receiver for r in root.match({"team": "ads"})]
['default']
>>> risk = root.routes[0]
>>> risk.opts.group_by, risk.opts.group_wait, risk.opts.group_interval
(('alertname',), 0.0, 300.0)
>>> risk.key, risk.id
('{}/{team="risk"}', '{}/{team="risk"}/0')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from .matchers import Matcher, format_matchers, matches_all, sorted_matchers

GROUP_BY_ALL = "..."


@dataclass(frozen=True)
class RouteOpts:
    """What a matching route decides, after inheritance. Times in seconds."""

    receiver: str
    group_by: tuple[str, ...] = ()
    group_by_all: bool = False
    # Alertmanager's defaults, so that a file written for it behaves the same here.
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    # Beyond the timers, also inherited as in Alertmanager:
    mute_time_intervals: tuple[str, ...] = ()  # no notifications while any of these holds
    active_time_intervals: tuple[str, ...] = ()  # notifications only while one holds
    escalation: str | None = None  # the escalation policy of this route's groups


@dataclass(frozen=True)
class RouteSpec:
    """One route as a config file states it; ``None`` means "inherit from the parent"."""

    receiver: str | None = None
    group_by: tuple[str, ...] | None = None  # ("...",) groups by every label
    group_wait: float | None = None
    group_interval: float | None = None
    repeat_interval: float | None = None
    mute_time_intervals: tuple[str, ...] | None = None
    active_time_intervals: tuple[str, ...] | None = None
    escalation: str | None = None
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    routes: tuple[RouteSpec, ...] = ()
    line: int = 0  # where the route starts in its file, for log lines


class Route:
    """A node of the tree, with its options resolved against its ancestors."""

    def __init__(self, spec: RouteSpec, parent: Route | None = None, index: int = 0) -> None:
        self.parent = parent
        self.index = index
        self.line = spec.line
        self.matchers = sorted_matchers(spec.matchers)
        self.continue_ = spec.continue_
        self.opts = _resolve(spec, parent.opts if parent else None)
        prefix = f"{parent.key}/" if parent else ""
        # Alertmanager's route key: it is the first half of every group key, which
        # receivers use to deduplicate, so it must be byte for byte the same.
        self.key = prefix + format_matchers(self.matchers)
        self.id = f"{self.key}/{index}" if parent else self.key
        self.routes = tuple(Route(child, self, i) for i, child in enumerate(spec.routes))

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """Every route that takes this alert, in tree order (empty if the root rejects it)."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that name an alert's aggregation group on this route.

        >>> Route(RouteSpec(receiver="r", group_by=("model", "team"))).group_labels(
        ...     {"model": "fraud", "severity": "page"})
        {'model': 'fraud'}
        """
        if self.opts.group_by_all:
            return dict(labels)
        return {name: labels[name] for name in self.opts.group_by if name in labels}

    def walk(self) -> Iterator[Route]:
        yield self
        for child in self.routes:
            yield from child.walk()

    def __repr__(self) -> str:
        return f"Route({self.id!r}, receiver={self.opts.receiver!r})"


def _resolve(spec: RouteSpec, parent: RouteOpts | None) -> RouteOpts:
    if parent is None:
        if spec.receiver is None:
            raise ValueError("the root route needs a receiver")
        opts = RouteOpts(receiver=spec.receiver)
    else:
        opts = parent
    if spec.receiver is not None:
        opts = replace(opts, receiver=spec.receiver)
    if spec.group_by is not None:
        if GROUP_BY_ALL in spec.group_by:
            opts = replace(opts, group_by=(), group_by_all=True)
        else:
            opts = replace(opts, group_by=tuple(sorted(set(spec.group_by))), group_by_all=False)
    names = (
        "group_wait",
        "group_interval",
        "repeat_interval",
        "mute_time_intervals",
        "active_time_intervals",
        "escalation",
    )
    for name in names:
        value = getattr(spec, name)
        if value is not None:
            opts = replace(opts, **{name: value})
    return opts
