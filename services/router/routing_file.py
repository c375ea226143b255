"""The routing file: Alertmanager's format where Alertmanager has the concept, validated
with line numbers, plus escalation policies and flap damping.

A mistake stops start-up with ``<file>:<line>: <reason>``; so the file is read as YAML
nodes (which know where they start) rather than as plain data. Sections::

    route:                  receiver, group_by, group_wait, group_interval, repeat_interval,
                            matchers, match, match_re, continue, routes,
                            mute_time_intervals, active_time_intervals, escalation
    inhibit_rules:          source_matchers, target_matchers, equal (and the legacy
                            source_match[_re], target_match[_re])
    time_intervals:         name, time_intervals: [times, weekdays, days_of_month, months,
                            years, location]      (also under the older name
                            mute_time_intervals)
    escalation_policies:    name, steps: [{notify, wait}], repeat, ack_timeout, and a last
                            step {open_incident: true, notify}
    flap_detection:         max_transitions, window
    receivers:              see receivers

Durations are Prometheus durations (``0s``, ``30s``, ``5m``, ``1h30m``, ``2d``). Values may
use ``${VAR}`` or ``${VAR:-default}`` from the environment (``VAR_FILE`` too). Alertmanager
keys this router does not implement (``global``, ``templates``, other integrations ...) are
errors rather than silently ignored: a file that says it pages someone must page them.

>>> text = '''
... route:
...   receiver: oncall
...   group_by: [alertname]
...   group_wait: 0s
... receivers:
...   - name: oncall
...     webhook_configs:
...       - url: http://127.0.0.1:${PORT}/alerts
... '''
>>> routing = loads(text, env={"PORT": "9999"})
>>> routing.route.opts.group_wait, routing.receivers["oncall"][0].url
(0.0, 'http://127.0.0.1:9999/alerts')
>>> loads(text.replace("group_wait: 0s", "group_wiat: 0s"), env={"PORT": "1"})
Traceback (most recent call last):
...
watchkeeper.yamlconf.ConfigFileError: <string>:5: unknown key 'group_wiat' in route; \
allowed: continue, group_by, group_interval, group_wait, match, match_re, matchers, \
receiver, repeat_interval, routes, mute_time_intervals, active_time_intervals, escalation
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from watchkeeper.yamlconf import ConfigFileError, parse_duration

from .escalation import Policy, Step
from .inhibit import InhibitRule
from .matchers import Matcher, MatcherError, parse_matchers
from .receivers import ReceiverOptions, ReceiverReader
from .routes import GROUP_BY_ALL, Route, RouteSpec
from .routing_nodes import Keys, Nodes
from .timeintervals import SPEC_KEYS, TimeInterval

__all__ = ["ConfigFileError", "FlapConfig", "RoutingConfig", "load", "loads", "parse_duration"]

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

_TOP = (
    "route",
    "receivers",
    "inhibit_rules",
    "time_intervals",
    "mute_time_intervals",
    "escalation_policies",
    "flap_detection",
)
_ROUTE = (
    "continue",
    "group_by",
    "group_interval",
    "group_wait",
    "match",
    "match_re",
    "matchers",
    "receiver",
    "repeat_interval",
    "routes",
    "mute_time_intervals",
    "active_time_intervals",
    "escalation",
)
_INHIBIT = (
    "source_matchers",
    "target_matchers",
    "source_match",
    "source_match_re",
    "target_match",
    "target_match_re",
    "equal",
)
# Alertmanager keys that are valid there but not implemented here: say so, precisely.
_REFUSED = {
    "global": "global settings ('global') not supported by the router: set them on each "
    "integration",
    "templates": "templates ('templates', Go template files) not supported by the router: "
    "use the title/text/description/subject keys of an integration",
    "tracing": "tracing ('tracing') not supported by the router",
}


@dataclass(frozen=True)
class FlapConfig:
    max_transitions: int
    window_s: float


@dataclass(frozen=True)
class RoutingConfig:
    path: str
    route: Route
    receivers: dict[str, tuple[Any, ...]]
    receiver_options: dict[str, ReceiverOptions] = field(default_factory=dict)
    inhibit_rules: tuple[InhibitRule, ...] = ()
    time_intervals: dict[str, TimeInterval] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    flap: FlapConfig | None = None


def load(path: str | Path, env: Mapping[str, str] | None = None) -> RoutingConfig:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(name, None, f"cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            name, None, f"not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
    return loads(text, name, env)


def loads(text: str, path: str = "<string>", env: Mapping[str, str] | None = None) -> RoutingConfig:
    return _Reader(path, os.environ if env is None else env).read(text)


class _Reader(Nodes):
    def __init__(self, path: str, env: Mapping[str, str]) -> None:
        super().__init__(path, env)
        self._raw_env = env
        self._receiver_refs: list[tuple[str, yaml.Node]] = []
        self._interval_refs: list[tuple[str, yaml.Node]] = []
        self._policy_refs: list[tuple[str, yaml.Node]] = []

    def read(self, text: str) -> RoutingConfig:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 0
            raise ConfigFileError(self.path, line, f"not valid YAML: {exc.problem}") from None
        if root is None:
            raise ConfigFileError(self.path, 1, "the file is empty; it needs route and receivers")
        top = self.mapping(root, "the file", _TOP, _REFUSED)
        if "route" not in top:
            raise self.fail(root, "missing 'route'")
        if "receivers" not in top:
            raise self.fail(root, "missing 'receivers'")
        receivers = ReceiverReader(self.path, self._raw_env).read(top["receivers"][1])
        intervals: dict[str, TimeInterval] = {}
        for key in ("time_intervals", "mute_time_intervals"):
            if key in top:
                self.time_intervals(top[key][1], intervals)
        policies = (
            self.policies(top["escalation_policies"][1]) if "escalation_policies" in top else {}
        )
        spec = self.route(top["route"][1], is_root=True)
        inhibit = self.inhibit_rules(top["inhibit_rules"][1]) if "inhibit_rules" in top else ()
        flap = self.flap(top["flap_detection"][1]) if "flap_detection" in top else None
        known = receivers.integrations
        for name, node in self._receiver_refs:
            if name not in known:
                raise self.fail(
                    node, f"unknown receiver {name!r}; defined: {', '.join(sorted(known))}"
                )
        for name, node in self._interval_refs:
            if name not in intervals:
                raise self.fail(node, f"unknown time interval {name!r}")
        for name, node in self._policy_refs:
            if name not in policies:
                raise self.fail(node, f"unknown escalation policy {name!r}")
        return RoutingConfig(
            self.path,
            Route(spec),
            receivers.integrations,
            receivers.options,
            inhibit,
            intervals,
            policies,
            flap,
        )

    # -- route ------------------------------------------------------------------------

    def route(self, node: yaml.Node, is_root: bool = False) -> RouteSpec:
        keys = self.mapping(node, "route", _ROUTE)
        line = node.start_mark.line + 1
        receiver = None
        if "receiver" in keys:
            receiver = self.string(keys["receiver"][1], "receiver")
            self._receiver_refs.append((receiver, keys["receiver"][1]))
        elif is_root:
            raise self.fail(node, "the root route needs a receiver")
        matchers = self.matchers(keys, ("matchers", "match", "match_re"))
        if is_root and matchers:
            raise self.fail(
                keys[_first(keys, "matchers", "match", "match_re")][0],
                "the root route takes every alert; it cannot have matchers",
            )
        continue_ = False
        if "continue" in keys:
            continue_ = self.boolean(keys["continue"][1], "continue")
            if is_root and continue_:
                raise self.fail(keys["continue"][0], "the root route cannot have 'continue'")
        options: dict[str, Any] = {}
        for name in ("group_wait", "group_interval", "repeat_interval"):
            if name in keys:
                value = self.duration(keys[name][1], name)
                if value == 0 and name != "group_wait":
                    raise self.fail(keys[name][1], f"{name} must be more than 0")
                options[name] = value
        for name in ("mute_time_intervals", "active_time_intervals"):
            if name in keys:
                if is_root:
                    raise self.fail(keys[name][0], f"the root route cannot have {name}")
                names = self.strings(keys[name][1], "a time interval name")
                for item, text in zip(self.sequence(keys[name][1], name), names, strict=True):
                    self._interval_refs.append((text, item))
                options[name] = names
        if "escalation" in keys:
            policy = self.string(keys["escalation"][1], "escalation")
            self._policy_refs.append((policy, keys["escalation"][1]))
            options["escalation"] = policy
        children: tuple[RouteSpec, ...] = ()
        if "routes" in keys:
            items = self.sequence(keys["routes"][1], "routes")
            children = tuple(self.route(item) for item in items)
        return RouteSpec(
            receiver=receiver,
            group_by=self.group_by(keys["group_by"][1]) if "group_by" in keys else None,
            matchers=tuple(matchers),
            continue_=continue_,
            routes=children,
            line=line,
            **options,
        )

    def group_by(self, node: yaml.Node) -> tuple[str, ...]:
        names: list[str] = []
        for item in self.sequence(node, "group_by"):
            name = self.string(item, "a group_by label")
            if name != GROUP_BY_ALL and not _LABEL_NAME.match(name):
                raise self.fail(item, f"invalid label name {name!r} in group_by")
            if name in names:
                raise self.fail(item, f"label {name!r} appears twice in group_by")
            names.append(name)
        if GROUP_BY_ALL in names and len(names) > 1:
            raise self.fail(node, "group_by '...' (all labels) cannot be combined with labels")
        return tuple(names)

    def matchers(self, keys: Keys, names: tuple[str, str, str]) -> list[Matcher]:
        """Matchers from the list key and the two legacy map keys (``match``, ``match_re``)."""
        listed, equal, regex = names
        found: list[Matcher] = []
        if listed in keys:
            for item in self.sequence(keys[listed][1], listed):
                text = self.string(item, "a matcher")
                try:
                    found.extend(parse_matchers(text))
                except MatcherError as exc:
                    raise self.fail(item, str(exc)) from None
        for key, op in ((equal, "="), (regex, "=~")):
            if key not in keys:
                continue
            for name_node, value_node in self.pairs(keys[key][1], key):
                name = self.string(name_node, f"a label name in {key}")
                if not _LABEL_NAME.match(name):
                    raise self.fail(name_node, f"invalid label name {name!r} in {key}")
                value = self.string(value_node, f"the value of {name}")
                try:
                    found.append(Matcher.of(name, op, value))
                except MatcherError as exc:
                    raise self.fail(value_node, str(exc)) from None
        return found

    # -- the other sections -----------------------------------------------------------

    def inhibit_rules(self, node: yaml.Node) -> tuple[InhibitRule, ...]:
        rules = []
        for item in self.sequence(node, "inhibit_rules"):
            keys = self.mapping(item, "an inhibit rule", _INHIBIT)
            source = self.matchers(keys, ("source_matchers", "source_match", "source_match_re"))
            target = self.matchers(keys, ("target_matchers", "target_match", "target_match_re"))
            if not source or not target:
                raise self.fail(item, "an inhibit rule needs source and target matchers")
            equal: tuple[str, ...] = ()
            if "equal" in keys:
                equal = self.strings(keys["equal"][1], "a label name in equal")
                for name in equal:
                    if not _LABEL_NAME.match(name):
                        raise self.fail(keys["equal"][1], f"invalid label name {name!r} in equal")
            rules.append(InhibitRule(tuple(source), tuple(target), equal, item.start_mark.line + 1))
        return tuple(rules)

    def time_intervals(self, node: yaml.Node, into: dict[str, TimeInterval]) -> None:
        for item in self.sequence(node, "time_intervals"):
            keys = self.mapping(item, "a time interval", ("name", "time_intervals"))
            if "name" not in keys:
                raise self.fail(item, "a time interval needs a name")
            name = self.string(keys["name"][1], "name")
            if name in into:
                raise self.fail(keys["name"][1], f"time interval {name!r} is defined twice")
            if "time_intervals" not in keys:
                raise self.fail(item, f"time interval {name!r} needs time_intervals")
            specs = []
            for spec_node in self.sequence(keys["time_intervals"][1], "time_intervals"):
                spec_keys = self.mapping(spec_node, "a time interval entry", SPEC_KEYS)
                raw = {k: _plain(v) for k, (_, v) in spec_keys.items()}
                try:
                    specs.append(TimeInterval.parse(name, [raw]).specs[0])
                except (ValueError, TypeError, AttributeError) as exc:
                    raise self.fail(spec_node, f"time interval {name!r}: {exc}") from None
            into[name] = TimeInterval(name, tuple(specs))

    def policies(self, node: yaml.Node) -> dict[str, Policy]:
        policies: dict[str, Policy] = {}
        for item in self.sequence(node, "escalation_policies"):
            keys = self.mapping(
                item, "an escalation policy", ("name", "steps", "repeat", "ack_timeout")
            )
            if "name" not in keys or "steps" not in keys:
                raise self.fail(item, "an escalation policy needs a name and steps")
            name = self.string(keys["name"][1], "name")
            if name in policies:
                raise self.fail(keys["name"][1], f"escalation policy {name!r} is defined twice")
            steps: list[Step] = []
            incident: Step | None = None
            step_nodes = self.sequence(keys["steps"][1], "steps")
            for position, step_node in enumerate(step_nodes):
                step_keys = self.mapping(step_node, "a step", ("notify", "wait", "open_incident"))
                notify: tuple[str, ...] = ()
                if "notify" in step_keys:
                    notify = self.strings(step_keys["notify"][1], "a receiver name")
                    for receiver in notify:
                        self._receiver_refs.append((receiver, step_keys["notify"][1]))
                opens = "open_incident" in step_keys and self.boolean(
                    step_keys["open_incident"][1], "open_incident"
                )
                if opens:
                    if position != len(step_nodes) - 1:
                        raise self.fail(step_node, "the step that opens an incident must be last")
                    if "wait" in step_keys:
                        raise self.fail(
                            step_keys["wait"][0], "the last step has nothing to wait for"
                        )
                    incident = Step(notify)
                    continue
                if not notify:
                    raise self.fail(step_node, "a step needs receivers to notify")
                wait = 0.0
                if "wait" in step_keys:
                    wait = self.duration(step_keys["wait"][1], "wait", positive=True)
                elif position < len(step_nodes) - 1 or "repeat" in keys:
                    raise self.fail(step_node, "a step followed by another needs a wait")
                steps.append(Step(notify, wait))
            if not steps:
                raise self.fail(keys["steps"][1], "an escalation policy needs a step that notifies")
            repeat = self.integer(keys["repeat"][1], "repeat", minimum=0) if "repeat" in keys else 0
            ack_timeout = None
            if "ack_timeout" in keys:
                ack_timeout = self.duration(keys["ack_timeout"][1], "ack_timeout", positive=True)
            policies[name] = Policy(
                name, tuple(steps), repeat, ack_timeout, incident, item.start_mark.line + 1
            )
        return policies

    def flap(self, node: yaml.Node) -> FlapConfig:
        keys = self.mapping(node, "flap_detection", ("max_transitions", "window"))
        if "max_transitions" not in keys or "window" not in keys:
            raise self.fail(node, "flap_detection needs max_transitions and window")
        return FlapConfig(
            self.integer(keys["max_transitions"][1], "max_transitions", minimum=1),
            self.duration(keys["window"][1], "window", positive=True),
        )


def _plain(node: yaml.Node) -> Any:
    """A node as plain data, scalars as their text (timeintervals checks the values)."""
    if isinstance(node, yaml.MappingNode):
        return {_plain(k): _plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    return node.value


def _first(keys: Mapping[str, object], *names: str) -> str:
    return next(name for name in names if name in keys)
