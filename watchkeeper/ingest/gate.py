"""``--gate NAME``: may the pipeline go on? Asked before anything is sent and before every
transaction. Blocked: stop (exit 3; the committed checkpoint lets a re-run resume) or, with
``--wait``, say why once and ask again every ``poll_s`` until the gate opens.

The gate's state comes from ``read_state`` (the compacted ``gates`` topic, written by the
quality service; see ``watchkeeper.gates.qualitygate``); time passes through ``sleep``,
so the logic is tested without Kafka:

>>> states = iter([{"state": "BLOCKED", "reasons": []}, {"state": "UNBLOCKED"}])
>>> said = []
>>> g = Gate("fraud-training", lambda: next(states), wait=True, poll_s=5, sleep=lambda s: None,
...          say=said.append)
>>> g.check()
>>> said[0]
'gate fraud-training is blocked: waiting for it to open (asking every 5 s)'
>>> said[1]
'gate fraud-training is open: going on'
>>> Gate("g", lambda: None, wait=False).check()
'gate g: unknown: no state on the gates topic yet'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..gates.qualitygate import verdict


@dataclass
class Gate:
    name: str
    read_state: Callable[[], dict[str, Any] | None]
    wait: bool = False
    unknown_passes: bool = False
    poll_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    say: Callable[[str], None] = print

    def check(self) -> str | None:
        """None when the pipeline may go on; else why it must stop (without ``wait``)."""
        told = False
        while True:
            open_, why = verdict(self.read_state(), self.unknown_passes)
            if open_:
                if told:
                    self.say(f"gate {self.name} is open: going on")
                return None
            if not self.wait:
                return f"gate {self.name}: {why}"
            if not told:
                self.say(
                    f"gate {self.name} is {why}: waiting for it to open "
                    f"(asking every {self.poll_s:g} s)"
                )
                told = True
            self.sleep(self.poll_s)
