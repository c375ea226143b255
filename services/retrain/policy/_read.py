"""Small readers of a policy's YAML: each checks one value and names its key and line."""

from __future__ import annotations

import string
from typing import Any

from watchkeeper.yamlconf import Mapping, parse_duration


def keys(doc: Mapping, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(doc) - set(allowed))
    if unknown:
        raise doc.error(unknown[0], f"{where}unknown key {unknown[0]!r} "
                                    f"(expected {', '.join(allowed)})")  # fmt: skip


def mapping(doc: Mapping, key: str, where: str) -> Mapping:
    value = doc[key]
    if not isinstance(value, Mapping):
        raise doc.error(key, f"{where}{key} must be a mapping")
    return value


def boolean(doc: Mapping, key: str, where: str) -> bool:
    if not isinstance(doc[key], bool):
        raise doc.error(key, f"{where}{key} must be true or false, not {doc[key]!r}")
    return doc[key]


def text(doc: Mapping, key: str, where: str) -> str:
    value = doc[key]
    if not isinstance(value, str) or not value.strip():
        raise doc.error(key, f"{where}{key} must be a non-empty string, not {value!r}")
    return value


def number(doc: Mapping, key: str, where: str, low: float = 0.0, above: bool = False) -> float:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise doc.error(key, f"{where}{key} must be a number, not {value!r}")
    if value < low or (above and value == low):
        raise doc.error(key, f"{where}{key} must be {'above' if above else 'at least'} "
                             f"{low:g}, not {value:g}")  # fmt: skip
    return float(value)


def seconds(doc: Mapping, key: str, where: str = "", above: bool = False) -> float:
    """Seconds as a number or a duration (``5m``, ``1h30m``)."""
    value = doc[key]
    if isinstance(value, str):
        try:
            value = parse_duration(value)
        except ValueError as exc:
            raise doc.error(key, f"{where}{key}: {exc}") from None
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise doc.error(key, f"{where}{key} must be seconds or a duration (5m), not {value!r}")
    if value < 0 or (above and value == 0):
        raise doc.error(key, f"{where}{key} must be {'above' if above else 'at least'} 0")
    return float(value)


def names(doc: Mapping, key: str, where: str) -> tuple[str, ...]:
    value = doc[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise doc.error(key, f"{where}{key} must be a name or a list of names")
    return tuple(value)


def placeholders(text: str, known: tuple[str, ...]) -> str | None:
    """The first unknown ``{name}`` in text, or a reason it cannot be read; None if fine."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        return f"{exc} (write {{{{ and }}}} for literal braces)"
    bad = [n for n in names if n not in known]
    return f"unknown placeholder {{{bad[0]}}} (known: {', '.join(known)})" if bad else None


def plain(value: Any) -> Any:
    """A plain copy (dicts and lists) of a loaded YAML value."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
