"""The routing file: an Alertmanager-compatible subset, validated with line numbers.

A mistake stops start-up with ``<file>:<line>: <reason>``; so the file is read as YAML
nodes (which know where they start) rather than as plain data. Supported::

    route:                      receiver, group_by, group_wait, group_interval,
                                repeat_interval, matchers, match, match_re, continue, routes
    receivers:
      - name: ...
        webhook_configs:        url, send_resolved, timeout, max_alerts

Durations are Prometheus durations (``0s``, ``30s``, ``5m``, ``1h30m``, ``2d``). URLs may
use ``${VAR}`` or ``${VAR:-default}`` from the environment. Alertmanager keys that this
router does not implement yet (inhibit_rules, time intervals, other integrations, ...) are
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
receiver, repeat_interval, routes
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from watchkeeper.yamlconf import ConfigFileError, expand_env, parse_duration

from .matchers import Matcher, MatcherError, parse_matchers
from .routes import GROUP_BY_ALL, Route, RouteSpec
from .webhook import WebhookConfig

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

_TOP = ("receivers", "route")
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
)
_RECEIVER = ("name", "webhook_configs")
_WEBHOOK = ("max_alerts", "send_resolved", "timeout", "url")
# Alertmanager keys that are valid there but not implemented here: say so, precisely.
_NOT_YET = {
    "global": "global settings",
    "templates": "templates",
    "inhibit_rules": "inhibition",
    "time_intervals": "time intervals",
    "mute_time_intervals": "time intervals",
    "active_time_intervals": "time intervals",
    "http_config": "http_config",
    "url_file": "url_file",
}


@dataclass(frozen=True)
class RoutingConfig:
    path: str
    route: Route
    receivers: dict[str, tuple[WebhookConfig, ...]]


def load(path: str | Path, env: Mapping[str, str] | None = None) -> RoutingConfig:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(name, None, f"cannot read the file: {exc.strerror}") from None
    return loads(text, name, env)


def loads(text: str, path: str = "<string>", env: Mapping[str, str] | None = None) -> RoutingConfig:
    return _Reader(path, os.environ if env is None else env).read(text)


class _Reader:
    def __init__(self, path: str, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = env
        self._receiver_refs: list[tuple[str, int]] = []

    def fail(self, node: yaml.Node, reason: str) -> ConfigFileError:
        return ConfigFileError(self.path, node.start_mark.line + 1, reason)

    def read(self, text: str) -> RoutingConfig:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 0
            raise ConfigFileError(self.path, line, f"not valid YAML: {exc.problem}") from None
        if root is None:
            raise ConfigFileError(self.path, 1, "the file is empty; it needs route and receivers")
        top = self.mapping(root, "the file", _TOP)
        if "route" not in top:
            raise self.fail(root, "missing 'route'")
        if "receivers" not in top:
            raise self.fail(root, "missing 'receivers'")
        receivers = self.receivers(top["receivers"][1])
        spec = self.route(top["route"][1], is_root=True)
        for name, line in self._receiver_refs:
            if name not in receivers:
                known = ", ".join(sorted(receivers))
                raise ConfigFileError(
                    self.path, line, f"unknown receiver {name!r}; defined: {known}"
                )
        return RoutingConfig(self.path, Route(spec), receivers)

    # -- sections ---------------------------------------------------------------------

    def route(self, node: yaml.Node, is_root: bool = False) -> RouteSpec:
        keys = self.mapping(node, "route", _ROUTE)
        line = node.start_mark.line + 1
        receiver = None
        if "receiver" in keys:
            receiver = self.string(keys["receiver"][1], "receiver")
            self._receiver_refs.append((receiver, keys["receiver"][1].start_mark.line + 1))
        elif is_root:
            raise self.fail(node, "the root route needs a receiver")
        matchers = self.matchers(keys)
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
        timers = {}
        for name in ("group_wait", "group_interval", "repeat_interval"):
            if name in keys:
                value = self.duration(keys[name][1], name)
                if value == 0 and name != "group_wait":
                    raise self.fail(keys[name][1], f"{name} must be more than 0")
                timers[name] = value
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
            **timers,
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

    def matchers(self, keys: dict[str, tuple[yaml.Node, yaml.Node]]) -> list[Matcher]:
        found: list[Matcher] = []
        if "matchers" in keys:
            for item in self.sequence(keys["matchers"][1], "matchers"):
                text = self.string(item, "a matcher")
                try:
                    found.extend(parse_matchers(text))
                except MatcherError as exc:
                    raise self.fail(item, str(exc)) from None
        for key, op in (("match", "="), ("match_re", "=~")):
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

    def receivers(self, node: yaml.Node) -> dict[str, tuple[WebhookConfig, ...]]:
        receivers: dict[str, tuple[WebhookConfig, ...]] = {}
        for item in self.sequence(node, "receivers"):
            keys = self.mapping(item, "receiver", _RECEIVER, other_integrations=True)
            if "name" not in keys:
                raise self.fail(item, "a receiver needs a name")
            name_node = keys["name"][1]
            name = self.string(name_node, "name")
            if not name:
                raise self.fail(name_node, "a receiver name cannot be empty")
            if name in receivers:
                raise self.fail(name_node, f"receiver {name!r} is defined twice")
            configs: list[WebhookConfig] = []
            if "webhook_configs" in keys:
                hooks = self.sequence(keys["webhook_configs"][1], "webhook_configs")
                for index, hook in enumerate(hooks):
                    configs.append(self.webhook(hook, name, index))
            receivers[name] = tuple(configs)
        return receivers

    def webhook(self, node: yaml.Node, receiver: str, index: int) -> WebhookConfig:
        keys = self.mapping(node, "webhook_configs entry", _WEBHOOK)
        if "url" not in keys:
            raise self.fail(node, "a webhook needs a url")
        url = self.url(keys["url"][1])
        send_resolved = True
        if "send_resolved" in keys:
            send_resolved = self.boolean(keys["send_resolved"][1], "send_resolved")
        timeout = 10.0
        if "timeout" in keys:
            timeout = self.duration(keys["timeout"][1], "timeout")
            if timeout <= 0:
                raise self.fail(keys["timeout"][1], "timeout must be more than 0")
        max_alerts = 0
        if "max_alerts" in keys:
            max_alerts = self.integer(keys["max_alerts"][1], "max_alerts")
            if max_alerts < 0:
                raise self.fail(keys["max_alerts"][1], "max_alerts cannot be negative")
        return WebhookConfig(receiver, index, url, send_resolved, timeout, max_alerts)

    def url(self, node: yaml.Node) -> str:
        raw = self.string(node, "url")
        try:
            url = expand_env(raw, self.env)
        except ValueError as exc:
            raise self.fail(node, str(exc)) from None
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise self.fail(node, f"invalid url {url!r}: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise self.fail(node, f"url must be http:// or https:// with a host, got {url!r}")
        return url

    # -- node helpers -----------------------------------------------------------------

    def mapping(
        self,
        node: yaml.Node,
        what: str,
        allowed: tuple[str, ...],
        other_integrations: bool = False,
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (key: value)")
        keys: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.string(key_node, "a key")
            if key in keys:
                raise self.fail(key_node, f"{key!r} appears twice in {what}")
            if key not in allowed:
                if key in _NOT_YET:
                    reason = f"{_NOT_YET[key]} ({key!r}) not supported by the router yet"
                elif other_integrations and key.endswith("_configs"):
                    reason = f"{key!r}: only webhook_configs are supported so far"
                else:
                    reason = f"unknown key {key!r} in {what}; allowed: {', '.join(allowed)}"
                raise self.fail(key_node, reason)
            keys[key] = (key_node, value_node)
        return keys

    def pairs(self, node: yaml.Node, what: str) -> list[tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (label: value)")
        return list(node.value)

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            raise self.fail(node, f"{what} must be a string")
        return str(node.value)

    def boolean(self, node: yaml.Node, what: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            raise self.fail(node, f"{what} must be true or false")
        return node.value.lower() in ("true", "yes", "on", "y")

    def integer(self, node: yaml.Node, what: str) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            raise self.fail(node, f"{what} must be an integer")
        return int(node.value, 0)

    def duration(self, node: yaml.Node, what: str) -> float:
        text = self.string(node, what)
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise self.fail(node, f"{what}: {exc}") from None


def _first(keys: Mapping[str, object], *names: str) -> str:
    return next(name for name in names if name in keys)
