"""Titles and bodies of notifications: ``{{ path }}`` placeholders, filled from the notice.

Deliberately small: a placeholder names a value of the notification (``status``,
``common_labels.model`` ...), optionally through a filter (``| upper``, ``| lower``,
``| title``). No code runs in a template, so a routing file cannot make the router do
anything but fill text; a typo in a root name is an error at start-up, with its line;
a label an alert lacks renders as the empty string (as in Alertmanager's templates).

>>> t = Template.parse("[{{ status | upper }}] {{ common_labels.alertname }} ({{ firing }})")
>>> t.render({"status": "firing", "common_labels": {"alertname": "HighLatency"}, "firing": 2})
'[FIRING] HighLatency (2)'
>>> Template.parse("{{ labels.model }}")
Traceback (most recent call last):
...
services.router.templates.TemplateError: unknown name 'labels' in {{ labels.model }}; \
use one of: ack_url, acked_by, alerts, common_annotations, common_labels, escalation_step, \
external_url, firing, group_key, group_labels, incident_id, receiver, resolved, status, \
summary
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What a template can name; the notice builds exactly these (see integrations.base).
ROOTS = frozenset(
    {
        "ack_url",
        "acked_by",
        "alerts",
        "common_annotations",
        "common_labels",
        "escalation_step",
        "external_url",
        "firing",
        "group_key",
        "group_labels",
        "incident_id",
        "receiver",
        "resolved",
        "status",
        "summary",
    }
)
FILTERS = {"upper": str.upper, "lower": str.lower, "title": str.title}
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_:.\-]+)?$")


class TemplateError(ValueError):
    """A template that cannot be used; the message quotes the placeholder."""


@dataclass(frozen=True)
class _Field:
    path: tuple[str, ...]
    filters: tuple[str, ...]


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[str | _Field, ...]

    @classmethod
    def parse(cls, source: str) -> Template:
        parts: list[str | _Field] = []
        position = 0
        for found in _PLACEHOLDER.finditer(source):
            parts.append(source[position : found.start()])
            parts.append(_field(found.group(1), found.group(0)))
            position = found.end()
        rest = source[position:]
        if "{{" in rest:
            raise TemplateError(f"'{{{{' without its closing '}}}}' in {source!r}")
        parts.append(rest)
        return cls(source, tuple(p for p in parts if p != ""))

    def render(self, context: Mapping[str, Any]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value: Any = context
            for name in part.path:
                value = value.get(name, "") if isinstance(value, Mapping) else ""
            text = "" if value is None else str(value)
            for name in part.filters:
                text = FILTERS[name](text)
            out.append(text)
        return "".join(out)


def _field(inner: str, whole: str) -> _Field:
    pieces = [p.strip() for p in inner.split("|")]
    path_text, filters = pieces[0], tuple(pieces[1:])
    if not _PATH.match(path_text):
        raise TemplateError(f"not a name: {whole}")
    root, _, rest = path_text.partition(".")
    if root not in ROOTS:
        raise TemplateError(
            f"unknown name {root!r} in {whole}; use one of: {', '.join(sorted(ROOTS))}"
        )
    for name in filters:
        if name not in FILTERS:
            raise TemplateError(
                f"unknown filter {name!r} in {whole}; use one of: {', '.join(sorted(FILTERS))}"
            )
    # A label name may itself contain dots in other systems; only the first dot splits.
    return _Field((root, rest) if rest else (root,), filters)
