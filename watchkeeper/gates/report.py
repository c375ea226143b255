"""A gate's result: the verdict, one row per check, and how it prints and is recorded.

>>> result = GateResult("validate", "fraud", "2")
>>> result.check("auc >= 0.8", 0.91, True)
>>> result.check("auc - champion >= 0.01", 0.004, False, "0.914 vs 0.910")
>>> result.passed, result.failures()
(False, ['auc - champion >= 0.01: 0.004 (0.914 vs 0.910)'])
>>> print(result.table())
gate:validate fraud version 2: FAIL
  check                   value  verdict  note
  auc >= 0.8              0.91   pass
  auc - champion >= 0.01  0.004  FAIL     0.914 vs 0.910
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class UsageError(ValueError):
    """Bad usage or input (a missing column, an unreadable file): exit 2 with the reason."""


@dataclass
class Row:
    check: str
    value: str
    passed: bool
    note: str


@dataclass
class GateResult:
    gate: str
    model: str
    version: str
    rows: list[Row] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    tail: str = ""  # staging: the end of the command's output

    def check(self, name: str, value: Any, passed: bool, note: str = "") -> None:
        shown = f"{value:.4g}" if isinstance(value, float) else ("" if value is None else value)
        self.rows.append(Row(name, str(shown), passed, note))

    @property
    def passed(self) -> bool:
        # No check made is no evidence: a gate that judged nothing does not pass.
        return bool(self.rows) and all(r.passed for r in self.rows)

    def failures(self) -> list[str]:
        return [
            f"{r.check}: {r.value}" + (f" ({r.note})" if r.note else "")
            for r in self.rows
            if not r.passed
        ]

    def details(self) -> str:
        """What the registry keeps: the failures, or a one-line summary when it passed."""
        if self.passed:
            text = f"{len(self.rows)} checks passed: " + "; ".join(r.check for r in self.rows)
        else:
            text = "; ".join(self.failures()) or "no checks were made"
        return text + (f"\noutput (tail):\n{self.tail}" if self.tail else "")

    def table(self) -> str:
        head = ("check", "value", "verdict", "note")
        body = [(r.check, r.value, "pass" if r.passed else "FAIL", r.note) for r in self.rows]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(4)]
        lines = [f"gate:{self.gate} {self.model} version {self.version}: "
                 f"{'PASS' if self.passed else 'FAIL'}"]  # fmt: skip
        for row in [head, *body]:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if not self.rows:
            lines.append("  (no checks were made)")
        if self.tail:
            lines.append("  output (tail):")
            lines.extend("    " + line for line in self.tail.splitlines())
        return "\n".join(line.rstrip() for line in lines)

    def record(self, registry_url: str, token: str | None) -> dict[str, Any]:
        """Record the result on the version (the alias gate reads the latest one)."""
        from ..clients.registry import RegistryClient

        with RegistryClient(registry_url, token) as rc:
            return rc.record_validation(
                self.model, self.version, self.passed, self.metrics, f"gate:{self.gate}",
                self.details(),
            )  # fmt: skip
