"""YAML configuration that remembers where each value came from.

Rule files and route trees are written by people; when one is wrong, start-up stops with
the file, the line and the reason, never with a traceback.

>>> doc = load_text("rules:\\n  - alert: A\\n    for: two\\n", "rules.yaml")
>>> rule = doc["rules"][0]
>>> rule.line_of("for")
3
>>> raise ConfigFileError(doc.source, rule.line_of("for"), "for must be a whole number")
Traceback (most recent call last):
...
watchkeeper.yamlconf.ConfigFileError: rules.yaml:3: for must be a whole number
>>> load_text("prices:\\n  since: 2026-13-01\\n", "cost.yaml")
Traceback (most recent call last):
...
watchkeeper.yamlconf.ConfigFileError: cost.yaml:2: cannot read '2026-13-01': month must be in 1..12
"""

from __future__ import annotations

import os
import re
from collections import abc
from pathlib import Path
from typing import Any

import yaml


class ConfigFileError(ValueError):
    """A configuration file is wrong; ``str()`` is ``file:line: reason`` (``file: reason``
    when no line applies, e.g. the file cannot be read)."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {reason}")
        self.source, self.line, self.reason = source, line, reason

    @property
    def path(self) -> str:
        return self.source


_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_DURATION_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration, the grammar every watchkeeper file uses.

    >>> parse_duration("1h30m"), parse_duration("0s"), parse_duration("250ms")
    (5400.0, 0.0, 0.25)
    >>> parse_duration("5 minutes")
    Traceback (most recent call last):
    ...
    ValueError: not a duration: '5 minutes' (use e.g. 0s, 30s, 5m, 4h, 1h30m)
    """
    text = str(text).strip()
    if text == "0":
        return 0.0
    found = _DURATION.match(text)
    if not text or not found:
        raise ValueError(f"not a duration: {text!r} (use e.g. 0s, 30s, 5m, 4h, 1h30m)")
    parts = zip(found.groups(), _DURATION_UNITS, strict=True)
    return float(sum(int(n) * unit for n, unit in parts if n))


class Mapping(dict):
    """A YAML mapping with the line of every key (1-based)."""

    source: str = ""
    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    def error(self, key: str | None, reason: str) -> ConfigFileError:
        return ConfigFileError(self.source, self.line_of(key) if key else self.line, reason)


class Sequence(list):
    source: str = ""
    line: int = 0


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str, env: abc.Mapping[str, str] | None = None) -> str:
    """``${VAR}`` and ``${VAR:-default}`` from the environment (an empty value counts as
    unset). Raises ValueError naming a variable that is unset and has no default.

    >>> expand_env("http://127.0.0.1:${PORT:-9093}/alerts", {})
    'http://127.0.0.1:9093/alerts'
    """
    env = os.environ if env is None else env

    def replace(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        if not value:
            if match.group(2) is None:
                raise ValueError(
                    f"environment variable {match.group(1)} is not set "
                    "(write ${VAR:-default} for a default)"
                )
            return match.group(2)
        return value

    return _ENV.sub(replace, text)


def _expand(text: str, source: str, line: int) -> str:
    try:
        return expand_env(text)
    except ValueError as exc:
        raise ConfigFileError(source, line, str(exc)) from None


def _convert(node: yaml.Node, source: str) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = Mapping()
        result.source, result.line = source, line
        for key_node, value_node in node.value:
            key = _convert(key_node, source)
            if not isinstance(key, str):
                raise ConfigFileError(
                    source, key_node.start_mark.line + 1, f"keys must be strings, got {key!r}"
                )
            if key in result:
                raise ConfigFileError(
                    source, key_node.start_mark.line + 1, f"duplicate key {key!r}"
                )
            result[key] = _convert(value_node, source)
            result.lines[key] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        items = Sequence(_convert(item, source) for item in node.value)
        items.source, items.line = source, line
        return items
    constructor = yaml.SafeLoader("")
    try:
        value = constructor.construct_object(node, deep=True)
    except (ValueError, yaml.YAMLError) as exc:
        # An unquoted value that looks like a date or a number but is not one (2026-13-01).
        raise ConfigFileError(source, line, f"cannot read {node.value!r}: {exc}") from None
    finally:
        constructor.dispose()
    if isinstance(value, str):
        return _expand(value, source, line)
    return value


def load_text(text: str, source: str = "<string>") -> Any:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(source, line, f"not valid YAML: {reason}") from None
    if node is None:
        raise ConfigFileError(source, None, "the file is empty")
    return _convert(node, source)


def load_file(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(str(path), None, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            str(path), None, f"not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
    return load_text(text, str(path))
