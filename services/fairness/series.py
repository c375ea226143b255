"""The state of one model version: its open windows of counts per protected group, the
groups it knows, and its alerts' states."""

from __future__ import annotations

import json
from typing import Any

from watchkeeper.kit import Hysteresis

from .config import FairnessSettings

OTHER = "_other"
NOTHING_HELD = ((), ())  # a prediction without any protected attribute: nothing to join
SeriesKey = tuple[str, str]  # model, version


class Window:
    __slots__ = ("late", "tables", "unattributed")

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, list[int]]] = {}  # attribute -> group -> counts
        self.unattributed: dict[str, int] = {}
        self.late = 0

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.tables, "u": self.unattributed, "l": self.late}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        window = cls()
        window.tables, window.unattributed, window.late = data["t"], data["u"], data["l"]
        return window


class SeriesState:
    __slots__ = (
        "alerts",
        "groups",
        "held",
        "key",
        "open_start",
        "open_window",
        "settings",
        "windows",
    )

    def __init__(self, key: SeriesKey, settings: FairnessSettings) -> None:
        self.key = key
        self.settings = settings
        self.windows: dict[int, Window] = {}
        self.groups: dict[str, set[str]] = {}  # known groups per attribute, for the cap
        self.alerts: dict[str, Hysteresis] = {}  # "<attr>\x1f<measure>" -> its state
        # The window most events go to, so the hot path skips the general lookup.
        self.open_start: int | None = None
        self.open_window: Window | None = None
        # Per combination of groups: what a held prediction stores (built once, reused).
        self.held: dict[tuple[str | None, ...], tuple[tuple[Any, ...], tuple[str, ...]]] = {}

    def admit(self, attribute: str, group: str) -> str:
        """The group's name in the tables: itself, or _other beyond max_groups."""
        known = self.groups.setdefault(attribute, set())
        if group in known:
            return group
        if len(known) >= self.settings.max_groups:
            return OTHER
        known.add(group)
        return group

    def holding(self, groups: tuple[str | None, ...]) -> Any:
        """What a prediction of these groups leaves in the pending store, and the end of its
        entry in the pending log (after the event time)."""
        named = [
            [a, g] for a, g in zip(self.settings.protected, groups, strict=True) if g is not None
        ]
        if not named:
            return NOTHING_HELD
        text = json.dumps([self.key, named], separators=(",", ":"))
        items = ((text, False), (text, True))  # indexed by the decision
        suffixes = (f"\x1f0\x1f{text}", f"\x1f1\x1f{text}")
        return items, suffixes

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": {str(s): w.to_dict() for s, w in self.windows.items()},
            "groups": {a: sorted(g) for a, g in self.groups.items()},
            "alerts": {name: state.to_list() for name, state in self.alerts.items()},
        }

    def load(self, data: dict[str, Any]) -> None:
        self.windows = {int(s): Window.from_dict(w) for s, w in data["windows"].items()}
        self.groups = {a: set(g) for a, g in data["groups"].items()}
        self.alerts = {name: Hysteresis.from_list(s) for name, s in data["alerts"].items()}
