"""What one window of one model counted, and the four check values derived from it.

==============  ===================================================================
check           value (1.0 is perfect; the gate compares it with its threshold)
==============  ===================================================================
completeness    min over required fields of present / events (for the model's outputs,
                score and prediction_label/value: / successful events)
accuracy        min over constrained fields with values of 1 - invalid / present
consistency     1 - inconsistent events / events (wrong type, broken rule, duplicate
                event id or an event time in the future)
freshness       1 - stale events / events (older than ``max_age`` when they arrived)
==============  ===================================================================

>>> from .contract import FieldSpec, FEATURE, NUMBER, Contract
>>> amount = FieldSpec("features.amount", FEATURE, "amount", NUMBER, required=True, minimum=0)
>>> contract = Contract("fraud", "fraud", fields=(amount,))
>>> counts = WindowCounts(1, 0)
>>> counts.events, counts.present[0], counts.invalid[0], counts.stale = 200, 150, 3, 10
>>> {k: round(v, 3) for k, v in counts.values(contract).items()}
{'completeness': 0.75, 'accuracy': 0.98, 'consistency': 1.0, 'freshness': 0.95}
"""

from __future__ import annotations

from typing import Any

from .contract import Contract, FieldSpec


class WindowCounts:
    __slots__ = (
        "duplicates",
        "events",
        "failed",
        "future",
        "inconsistent",
        "invalid",
        "lag_max_ms",
        "lag_sum_ms",
        "late",
        "present",
        "rules",
        "stale",
        "wrong_type",
    )

    def __init__(self, fields: int, rules: int) -> None:
        self.events = 0
        self.failed = 0  # predictions with status not OK: their outputs are not judged
        self.late = 0  # arrived after their own window closed; counted in this one
        self.present = [0] * fields
        self.invalid = [0] * fields
        self.wrong_type = [0] * fields
        self.rules = [0] * rules
        self.inconsistent = 0
        self.duplicates = 0
        self.future = 0
        self.stale = 0
        self.lag_sum_ms = 0
        self.lag_max_ms = 0

    def judged(self, spec: FieldSpec) -> int:
        """Events on which ``spec`` was checked."""
        return self.events - self.failed if spec.output else self.events

    def values(self, contract: Contract) -> dict[str, float | None]:
        """The four check values; None where nothing could be judged."""
        events = self.events
        if not events:
            return dict.fromkeys(("completeness", "accuracy", "consistency", "freshness"))
        completeness = None
        accuracy = None
        for i, spec in enumerate(contract.fields):
            judged = self.judged(spec)
            if spec.required and judged:
                rate = self.present[i] / judged
                completeness = rate if completeness is None else min(completeness, rate)
            if spec.constrained and self.present[i]:
                rate = 1.0 - self.invalid[i] / self.present[i]
                accuracy = rate if accuracy is None else min(accuracy, rate)
        return {
            "completeness": completeness,
            "accuracy": accuracy,
            "consistency": 1.0 - self.inconsistent / events,
            "freshness": 1.0 - self.stale / events,
        }

    # -- changelog ----------------------------------------------------------------------
    # Per-field counts are stored by path, so a contract edited between runs keeps the
    # counts of the fields it still has.

    def to_dict(self, contract: Contract) -> dict[str, Any]:
        paths = [f.path for f in contract.fields]
        names = [r.name for r in contract.rules]
        return {
            "n": self.events,
            "failed": self.failed,
            "late": self.late,
            "fields": {
                p: [self.present[i], self.invalid[i], self.wrong_type[i]]
                for i, p in enumerate(paths)
            },
            "rules": dict(zip(names, self.rules, strict=True)),
            "bad": self.inconsistent,
            "dup": self.duplicates,
            "future": self.future,
            "stale": self.stale,
            "lag": [self.lag_sum_ms, self.lag_max_ms],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], contract: Contract) -> WindowCounts:
        counts = cls(len(contract.fields), len(contract.rules))
        counts.events = data["n"]
        counts.failed = data["failed"]
        counts.late = data["late"]
        for i, spec in enumerate(contract.fields):
            saved = data["fields"].get(spec.path)
            if saved:
                counts.present[i], counts.invalid[i], counts.wrong_type[i] = saved
        for i, rule in enumerate(contract.rules):
            counts.rules[i] = data["rules"].get(rule.name, 0)
        counts.inconsistent = data["bad"]
        counts.duplicates = data["dup"]
        counts.future = data["future"]
        counts.stale = data["stale"]
        counts.lag_sum_ms, counts.lag_max_ms = data["lag"]
        return counts
