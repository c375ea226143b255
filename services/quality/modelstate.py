"""The state of one model on a partition: its contract's open windows of counts, its gate,
and the silence of the model and of each of its sources."""

from __future__ import annotations

from typing import Any

from .checks import Checker
from .contract import CHECKS, Contract
from .counts import WindowCounts
from .gate import Gate
from .silence import Silence


class ModelState:
    __slots__ = (
        "checker",
        "contract",
        "details",
        "gate",
        "silence",
        "sources",
        "thresholds",
        "windows",
    )

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.checker = Checker(contract)
        self.thresholds = {c: contract.thresholds.of(c) for c in CHECKS}
        self.windows: dict[int, WindowCounts] = {}
        self.gate = Gate()
        self.silence = Silence(contract.silence_ms)
        self.sources: dict[str, Silence] = {}
        self.details: dict[str, str] = {}  # why each check has its last value, for humans

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": {str(s): c.to_dict(self.contract) for s, c in self.windows.items()},
            "gate": self.gate.to_dict(),
            "silence": self.silence.state(),
            "sources": {k: s.state() for k, s in self.sources.items()},
        }

    def load(self, data: dict[str, Any]) -> None:
        contract = self.contract
        self.windows = {
            int(s): WindowCounts.from_dict(c, contract) for s, c in data["windows"].items()
        }
        self.gate = Gate.from_dict(data["gate"])
        self.silence = Silence(contract.silence_ms, *data["silence"])
        self.sources = {
            k: Silence(contract.source_silence_ms, *saved) for k, saved in data["sources"].items()
        }
