r"""How long each topic's days stay in each tier: ``deploy/archive.yaml``.

``cold`` is how long a day stays in the cold tier after it ended; then it is compacted into
the archive tier, or deleted when ``archive`` is ``off``. ``archive`` is how long a day is
kept after it ended (``forever`` keeps it). ``defaults`` apply to every topic, ``topics``
override them per topic.

>>> policy = load_policy_text('''
... defaults: {cold: 1d, archive: 365d}
... topics:
...   telemetry: {cold: 7d, archive: "off"}
... ''')
>>> policy.for_topic("predictions")
Retention(cold_s=86400.0, archive_s=31536000.0, archived=True)
>>> policy.for_topic("telemetry").archived, policy.for_topic("telemetry").cold_s
(False, 604800.0)
>>> load_policy_text("defaults:\n  archive: 1h\n", "archive.yaml")
Traceback (most recent call last):
...
watchkeeper.yamlconf.ConfigFileError: archive.yaml:2: archive must not be shorter than cold
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from watchkeeper.yamlconf import ConfigFileError, Mapping, load_file, load_text, parse_duration

KEYS = ("cold", "archive")


@dataclass(frozen=True)
class Retention:
    """One topic's tiers: seconds after a day ended until it leaves cold, and until it
    leaves the archive (``inf``: never); ``archived`` False means no archive tier."""

    cold_s: float = 86400.0
    archive_s: float = 365 * 86400.0
    archived: bool = True


@dataclass(frozen=True)
class Policy:
    defaults: Retention = field(default_factory=Retention)
    topics: dict[str, Retention] = field(default_factory=dict)

    def for_topic(self, topic: str) -> Retention:
        return self.topics.get(topic, self.defaults)


def _duration(doc: Mapping, key: str) -> float:
    value = doc[key]
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise doc.error(key, f"{key}: {exc}") from None


def _retention(doc: object, base: Retention, where: Mapping, key: str) -> Retention:
    if not isinstance(doc, Mapping):
        raise where.error(key, f"{key} must be a mapping of {' and '.join(KEYS)}")
    unknown = sorted(set(doc) - set(KEYS))
    if unknown:
        raise doc.error(unknown[0], f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    cold_s, archive_s, archived = base.cold_s, base.archive_s, base.archived
    if "cold" in doc:
        cold_s = _duration(doc, "cold")
    if "archive" in doc:
        raw = doc["archive"]
        if raw is False or raw == "off":  # YAML 1.1 reads a bare off as false
            archived = False
        elif raw == "forever":
            archived, archive_s = True, math.inf
        else:
            archived, archive_s = True, _duration(doc, "archive")
    if archived and archive_s < cold_s:
        raise doc.error(
            "archive" if "archive" in doc else "cold",
            "archive must not be shorter than cold",
        )
    return Retention(cold_s, archive_s, archived)


def _policy(doc: object, source: str) -> Policy:
    if doc is None:
        return Policy()
    if not isinstance(doc, Mapping):
        raise ConfigFileError(source, 1, "the file must be a mapping with defaults and topics")
    unknown = sorted(set(doc) - {"defaults", "topics"})
    if unknown:
        raise doc.error(unknown[0], f"unknown key {unknown[0]!r} (known: defaults, topics)")
    defaults = Retention()
    if "defaults" in doc:
        defaults = _retention(doc["defaults"], defaults, doc, "defaults")
    topics: dict[str, Retention] = {}
    given = doc.get("topics") or Mapping()
    if not isinstance(given, Mapping):
        raise doc.error("topics", "topics must map topic names to their retention")
    for topic in given:
        topics[str(topic)] = _retention(given[topic], defaults, given, topic)
    return Policy(defaults, topics)


def load_policy_text(text: str, source: str = "<string>") -> Policy:
    return _policy(load_text(text, source), source)


def load_policy(path: str) -> Policy:
    return _policy(load_file(path), str(path))
