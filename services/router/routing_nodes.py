"""Reading YAML nodes with their line numbers: the helpers the routing file's readers share.

A mistake becomes ``ConfigFileError(<file>, <line>, <reason>)``. Values may use
``${VAR}`` or ``${VAR:-default}``; for secrets, ``${VAR}`` also reads the file named by
``VAR_FILE`` (Docker and Kubernetes secrets), and a reason never quotes a secret's value.

>>> env = SecretEnv({"A": "1", "B_FILE": "/nonexistent"})
>>> env.get("A"), env.get("C")
('1', None)
>>> env.get("B")
Traceback (most recent call last):
...
ValueError: B_FILE: cannot read /nonexistent: No such file or directory
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import yaml

from watchkeeper.yamlconf import ConfigFileError, expand_env, parse_duration

from .templates import Template, TemplateError

Keys = dict[str, tuple[yaml.Node, yaml.Node]]


class SecretEnv:
    """The environment as ``expand_env`` reads it, with ``VAR_FILE`` standing in for VAR."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._env.get(name)
        if value:
            return value
        path = self._env.get(f"{name}_FILE")
        if not path:
            return default
        try:
            with open(path, encoding="utf-8") as handle:
                content = handle.read()
        except OSError as exc:
            raise ValueError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
        return content[:-1] if content.endswith("\n") else content


class Nodes:
    """Typed access to YAML nodes; every error names the file and the line."""

    def __init__(self, path: str, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = SecretEnv(env)

    def fail(self, node: yaml.Node, reason: str) -> ConfigFileError:
        return ConfigFileError(self.path, node.start_mark.line + 1, reason)

    def mapping(
        self,
        node: yaml.Node,
        what: str,
        allowed: tuple[str, ...],
        refused: Mapping[str, str] | None = None,
    ) -> Keys:
        """The keys of a mapping. ``refused`` maps keys that exist elsewhere (Alertmanager)
        but not here to the reason to give."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (key: value)")
        keys: Keys = {}
        for key_node, value_node in node.value:
            key = self.string(key_node, "a key")
            if key in keys:
                raise self.fail(key_node, f"{key!r} appears twice in {what}")
            if key not in allowed:
                if refused and key in refused:
                    raise self.fail(key_node, refused[key])
                raise self.fail(
                    key_node, f"unknown key {key!r} in {what}; allowed: {', '.join(allowed)}"
                )
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

    def strings(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        """A list of strings, or one string (a list of one)."""
        if isinstance(node, yaml.ScalarNode):
            return (self.string(node, what),)
        return tuple(self.string(item, what) for item in self.sequence(node, what))

    def boolean(self, node: yaml.Node, what: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            raise self.fail(node, f"{what} must be true or false")
        return node.value.lower() in ("true", "yes", "on", "y")

    def integer(self, node: yaml.Node, what: str, minimum: int | None = None) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            raise self.fail(node, f"{what} must be an integer")
        value = int(node.value, 0)
        if minimum is not None and value < minimum:
            raise self.fail(node, f"{what} must be at least {minimum}")
        return value

    def duration(self, node: yaml.Node, what: str, positive: bool = False) -> float:
        text = self.string(node, what)
        try:
            value = parse_duration(text)
        except ValueError as exc:
            raise self.fail(node, f"{what}: {exc}") from None
        if positive and value <= 0:
            raise self.fail(node, f"{what} must be more than 0")
        return value

    def expanded(self, node: yaml.Node, what: str) -> str:
        """A string with ``${VAR}`` expanded (reasons name variables, never values)."""
        raw = self.string(node, what)
        try:
            value = expand_env(raw, self.env)  # type: ignore[arg-type]
        except ValueError as exc:
            raise self.fail(node, str(exc)) from None
        return value

    def url(self, node: yaml.Node, what: str = "url", secret: bool = False) -> str:
        url = self.expanded(node, what)
        shown = "<secret>" if secret else repr(url)
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise self.fail(node, f"invalid {what} {shown}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise self.fail(node, f"{what} must be http:// or https:// with a host, got {shown}")
        return url

    def template(self, node: yaml.Node, what: str) -> Template:
        try:
            return Template.parse(self.string(node, what))
        except TemplateError as exc:
            raise self.fail(node, f"{what}: {exc}") from None


__all__ = ["ConfigFileError", "Keys", "Nodes", "SecretEnv"]
