"""Calendar days and months in one time zone, as epoch-millisecond ranges.

Budgets and aggregates follow the bill, and the bill follows a calendar in some time zone:
a "month" in Europe/Paris starts two hours before the UTC one in summer. Boundaries are
looked up once and cached, since the hot path asks for the same day over and over.

>>> paris = Calendar("Europe/Paris")
>>> t = 1_767_225_600_000  # 2026-01-01 00:00 UTC, 01:00 in Paris
>>> start, end = paris.month(t)
>>> paris.label("month", start), (end - start) // 86_400_000
('2026-01', 31)
>>> (t - start) // 3_600_000  # the Paris month began an hour before midnight UTC
1
>>> paris.label("day", paris.day(t)[0]), paris.hour_of_day(t)
('2026-01-01', 1)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def zone(name: str) -> ZoneInfo:
    """The zone, or ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name, e.g. UTC)") from None


class Calendar:
    def __init__(self, tz: str = "UTC") -> None:
        self.tz = tz
        self.zone = zone(tz)
        self._day = (0, 0)
        self._month = (0, 0)

    def _midnight(self, day: date) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp() * 1000)

    def _local(self, t_ms: int) -> datetime:
        return datetime.fromtimestamp(t_ms / 1000.0, self.zone)

    def day(self, t_ms: int) -> tuple[int, int]:
        """[start, end) of the local calendar day holding ``t_ms`` (23 or 25 h across DST)."""
        start, end = self._day
        if start <= t_ms < end:
            return self._day
        today = self._local(t_ms).date()
        self._day = (self._midnight(today), self._midnight(today + timedelta(days=1)))
        return self._day

    def month(self, t_ms: int) -> tuple[int, int]:
        """[start, end) of the local calendar month holding ``t_ms``."""
        start, end = self._month
        if start <= t_ms < end:
            return self._month
        local = self._local(t_ms).date()
        first = local.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        self._month = (self._midnight(first), self._midnight(following))
        return self._month

    def period(self, kind: str, t_ms: int) -> tuple[int, int]:
        return self.month(t_ms) if kind == "month" else self.day(t_ms)

    def hour_of_day(self, t_ms: int) -> int:
        return self._local(t_ms).hour

    def label(self, kind: str, start_ms: int) -> str:
        """``2026-01`` for a month, ``2026-01-31`` for a day."""
        local = self._local(start_ms)
        return local.strftime("%Y-%m" if kind == "month" else "%Y-%m-%d")

    def midnight(self, text: str) -> int:
        """The local midnight starting the ISO date ``text``."""
        return self._midnight(date.fromisoformat(text))
