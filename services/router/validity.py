"""When a firing alert stops being true without word from its sender: Alertmanager's
``endsAt`` timeout. Prometheus sends each firing alert with an ``endsAt`` some resend
intervals ahead and keeps re-sending it; if the re-sends stop (Prometheus gone, the rule
deleted), the alert is resolved at that ``endsAt``. A firing ``Alert`` event that carries
``ends_at_ms`` means the same here: valid until then, unless a newer state arrives.

Our own services publish firing alerts without ``ends_at_ms``: they never time out.

>>> book = ValidUntil()
>>> book.note("a", 2000), book.note("a", 3000), book.note("b", 2500)
(None, None, None)
>>> book.next_deadline_ms()
2000
>>> book.due(2600)  # (fingerprint, the ends_at_ms that came due); stale ones are the caller's
[('a', 2000), ('b', 2500)]
"""

from __future__ import annotations

import heapq


class ValidUntil:
    def __init__(self) -> None:
        # (ends_at_ms, fingerprint), one per firing state seen: a re-send pushes a later
        # entry and the earlier one is found stale when it comes due (ends_at differs).
        self._heap: list[tuple[int, str]] = []

    def note(self, fingerprint: str, ends_at_ms: int) -> None:
        heapq.heappush(self._heap, (ends_at_ms, fingerprint))

    def next_deadline_ms(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def due(self, now_ms: int) -> list[tuple[str, int]]:
        out = []
        while self._heap and self._heap[0][0] <= now_ms:
            ends, fingerprint = heapq.heappop(self._heap)
            out.append((fingerprint, ends))
        return out
