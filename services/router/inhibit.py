"""Inhibition: a firing *source* alert mutes *target* alerts that share given labels.

Alertmanager's semantics, rule by rule: a target alert (matching ``target_matchers``) is
inhibited when some firing alert matches ``source_matchers`` and has the same values for
every label in ``equal`` (a label missing on both sides counts as equal). An alert that
matches both sides cannot be inhibited by another alert that also matches both: otherwise
two such alerts would silence each other and nobody would hear of either.

>>> from services.router.alert import Alert
>>> from services.router.matchers import parse_matchers
>>> rule = InhibitRule(tuple(parse_matchers('severity="critical"')),
...                    tuple(parse_matchers('severity="warning"')), ("model",))
>>> inhibitor = Inhibitor([rule])
>>> def alert(fp, severity, model, firing=True):
...     labels = {"alertname": "X", "severity": severity, "model": model}
...     return Alert(fp, firing, labels, {}, 0, None, 0, "slo")
>>> inhibitor.observe(alert("src", "critical", "fraud"))
>>> inhibitor.inhibited_by(alert("t1", "warning", "fraud")), inhibitor.inhibited_by(
...     alert("t2", "warning", "chat"))
('src', None)
>>> inhibitor.observe(alert("src", "critical", "fraud", firing=False))
>>> inhibitor.inhibited_by(alert("t1", "warning", "fraud")) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .alert import Alert
from .matchers import Matcher, matches_all


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    line: int = 0


class Inhibitor:
    def __init__(self, rules: Iterable[InhibitRule]) -> None:
        self.rules = tuple(rules)
        # Per rule, the firing alerts that match its source side, by fingerprint.
        self._sources: list[dict[str, Alert]] = [{} for _ in self.rules]

    def observe(self, alert: Alert) -> None:
        """Keep the source caches up to date with every alert's latest state."""
        for rule, sources in zip(self.rules, self._sources, strict=True):
            if alert.firing and matches_all(rule.source, alert.labels):
                sources[alert.fingerprint] = alert
            else:
                sources.pop(alert.fingerprint, None)

    def inhibited_by(self, alert: Alert) -> str | None:
        """The fingerprint of a source alert that mutes ``alert``, or None."""
        labels = alert.labels
        for rule, sources in zip(self.rules, self._sources, strict=True):
            if not matches_all(rule.target, labels):
                continue
            two_sided = matches_all(rule.source, labels)
            for source in sources.values():
                if source.fingerprint == alert.fingerprint:
                    continue
                if any(source.labels.get(n, "") != labels.get(n, "") for n in rule.equal):
                    continue
                if two_sided and matches_all(rule.target, source.labels):
                    continue
                return source.fingerprint
        return None
