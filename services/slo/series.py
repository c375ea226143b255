"""One series' windows: open ones by event time, closed ones in rolling periods.

>>> series = SeriesState(("fraud", "3", "default", ""), window_ms=10_000,
...                      periods={60_000: True}, thresholds=())
>>> series.add_prediction(1_000, 12.0, True, None, 0, 0)
>>> series.add_prediction(9_999, 14.0, False, None, 0, 0)
>>> series.add_prediction(12_000, 13.0, True, None, 0, 0)
>>> sorted(series.open)
[0, 10000]
>>> [(start, agg.count) for start, agg in series.close_until(stream_ms=12_000, grace_ms=2_000)]
[(0, 2)]
>>> series.rolling[60_000].total.count, sorted(series.open)
(2, [10000])
"""

from __future__ import annotations

from typing import Any

from watchkeeper.kit import close_due

from .aggregate import Aggregate
from .rolling import Rolling

SeriesKey = tuple[str, str, str, str]  # model, version, variant, region ("" if none)


class SeriesState:
    """Windows of one model x version x variant x region."""

    def __init__(
        self,
        key: SeriesKey,
        window_ms: int,
        periods: dict[int, bool],
        thresholds: tuple[float, ...],
    ) -> None:
        self.key = key
        self.window_ms = window_ms
        self.thresholds = thresholds
        self.open: dict[int, Aggregate] = {}
        # Trailing periods the rules need, each with or without latency sketches.
        self.rolling = {d: Rolling(d, thresholds, sketch) for d, sketch in periods.items()}
        self.late = 0  # events that came after their window closed, since the last close
        self.rule_states: dict[str, Any] = {}
        self.last_eval_wall_ms = 0

    @property
    def labels(self) -> dict[str, str]:
        model, version, variant, region = self.key
        labels = {"model": model, "version": version, "variant": variant}
        if region:
            labels["region"] = region
        return labels

    def window(self, start_ms: int) -> Aggregate:
        agg = self.open.get(start_ms)
        if agg is None:
            agg = self.open[start_ms] = Aggregate(self.thresholds)
        return agg

    def add_prediction(
        self,
        event_ms: int,
        latency_ms: float,
        ok: bool,
        cost: float | None,
        tokens_in: int,
        tokens_out: int,
        degraded: bool = False,
    ) -> None:
        start = event_ms - event_ms % self.window_ms
        self.window(start).add_prediction(latency_ms, ok, cost, tokens_in, tokens_out, degraded)

    def current(self) -> tuple[int, Aggregate] | None:
        """The newest open window, the one early evaluation looks at."""
        if not self.open:
            return None
        start = max(self.open)
        return start, self.open[start]

    def close_until(self, stream_ms: int, grace_ms: int) -> list[tuple[int, Aggregate]]:
        """Close, oldest first, every window whose end + grace has passed ``stream_ms``."""
        # All of them join the rolling periods before the first is evaluated.
        closed = list(close_due(self.open, self.window_ms, grace_ms, stream_ms))
        for start, agg in closed:
            self.push_closed(start, agg)
        return closed

    def push_closed(self, start_ms: int, agg: Aggregate) -> None:
        end = start_ms + self.window_ms
        for rolling in self.rolling.values():
            rolling.push(start_ms, agg, end)

    def is_late(self, event_ms: int, stream_ms: int, grace_ms: int) -> bool:
        # Decided by stream time alone, not by whether a tick already closed the window, so
        # that a replay after a restart decides exactly as the first run did.
        start = event_ms - event_ms % self.window_ms
        return start + self.window_ms + grace_ms <= stream_ms
