"""Time intervals, in Alertmanager's format: when a route is muted, or when it is active.

An interval is a list of specs; a spec matches a moment when every field it sets matches
(an unset field matches anything): ``times`` (``HH:MM`` ranges, start inclusive, end
exclusive, up to ``24:00``), ``weekdays`` (``monday:friday``), ``days_of_month`` (``1:5``;
negative counts from the month's end, ``-1`` is the last day), ``months``
(``january:march`` or ``1:3``), ``years`` (``2026:2027``), all read in ``location`` (an
IANA time zone, UTC by default). The moment comes from the router's injected clock.

>>> offhours = TimeInterval.parse("offhours", [{
...     "times": [{"start_time": "18:00", "end_time": "24:00"}],
...     "weekdays": ["monday:friday"], "location": "Europe/Berlin"}])
>>> from datetime import datetime, UTC
>>> offhours.contains(datetime(2026, 1, 5, 17, 30, tzinfo=UTC).timestamp())  # 18:30 Berlin
True
>>> offhours.contains(datetime(2026, 1, 5, 16, 30, tzinfo=UTC).timestamp())  # 17:30 Berlin
False
>>> offhours.contains(datetime(2026, 1, 10, 17, 30, tzinfo=UTC).timestamp())  # a Saturday
False
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = {
    name: i
    for i, name in enumerate(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    )
}
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_TIME = re.compile(r"^(\d\d):(\d\d)$")
SPEC_KEYS = ("times", "weekdays", "days_of_month", "months", "years", "location")

Range = tuple[int, int]


@dataclass(frozen=True)
class Spec:
    times: tuple[Range, ...] = ()  # minutes of the day, [start, end)
    weekdays: tuple[Range, ...] = ()  # 0 = Monday (Python's numbering)
    days_of_month: tuple[Range, ...] = ()
    months: tuple[Range, ...] = ()
    years: tuple[Range, ...] = ()
    location: str = "UTC"

    def contains(self, moment: float) -> bool:
        local = datetime.fromtimestamp(moment, ZoneInfo(self.location))
        if self.times:
            minute = local.hour * 60 + local.minute
            if not any(start <= minute < end for start, end in self.times):
                return False
        if self.weekdays and not _within(local.weekday(), self.weekdays):
            return False
        if self.days_of_month:
            last = calendar.monthrange(local.year, local.month)[1]
            if not any(
                _day(lo, last) <= local.day <= _day(hi, last) for lo, hi in self.days_of_month
            ):
                return False
        if self.months and not _within(local.month, self.months):
            return False
        return not self.years or _within(local.year, self.years)


@dataclass(frozen=True)
class TimeInterval:
    name: str
    specs: tuple[Spec, ...]

    def contains(self, moment: float) -> bool:
        return any(spec.contains(moment) for spec in self.specs)

    @classmethod
    def parse(cls, name: str, specs: Sequence[Mapping[str, Any]]) -> TimeInterval:
        """From plain data (the routing file's reader checks the types and keys first)."""
        return cls(name, tuple(parse_spec(spec) for spec in specs))


def parse_spec(raw: Mapping[str, Any]) -> Spec:
    location = str(raw.get("location") or "UTC")
    try:
        ZoneInfo(location)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {location!r} (use an IANA name)") from None
    return Spec(
        times=tuple(_times(t) for t in raw.get("times") or ()),
        weekdays=tuple(_range(v, "weekday", _weekday) for v in raw.get("weekdays") or ()),
        days_of_month=tuple(
            _range(v, "day of month", _dom) for v in raw.get("days_of_month") or ()
        ),
        months=tuple(_range(v, "month", _month) for v in raw.get("months") or ()),
        years=tuple(_range(v, "year", _year) for v in raw.get("years") or ()),
        location=location,
    )


def _times(raw: Mapping[str, Any]) -> Range:
    start, end = _minute(raw.get("start_time")), _minute(raw.get("end_time"))
    if start >= end:
        raise ValueError(f"start_time must be before end_time in {dict(raw)}")
    return start, end


def _minute(text: Any) -> int:
    found = _TIME.match(str(text or ""))
    if not found:
        raise ValueError(f"a time must be HH:MM, got {text!r}")
    hours, minutes = int(found.group(1)), int(found.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"not a time of day: {text!r} (00:00 to 24:00)")
    return hours * 60 + minutes


def _range(text: Any, what: str, one: Any) -> Range:
    parts = str(text).strip().lower().split(":")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"a {what} range is 'a' or 'a:b', got {text!r}")
    lo, hi = one(parts[0]), one(parts[-1])
    if what != "day of month" and lo > hi:
        raise ValueError(f"{what} range {text!r} ends before it starts")
    if what == "day of month" and (lo > 0) == (hi > 0) and lo > hi:
        raise ValueError(f"{what} range {text!r} ends before it starts")
    return lo, hi


def _weekday(text: str) -> int:
    if text not in WEEKDAYS:
        raise ValueError(f"unknown weekday {text!r}")
    return WEEKDAYS[text]


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS[text]
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    raise ValueError(f"unknown month {text!r}")


def _dom(text: str) -> int:
    try:
        day = int(text)
    except ValueError:
        raise ValueError(f"not a day of month: {text!r}") from None
    if day == 0 or not -31 <= day <= 31:
        raise ValueError(f"a day of month is 1..31 or -31..-1, got {text!r}")
    return day


def _year(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"not a year: {text!r}")
    return int(text)


def _within(value: int, ranges: Sequence[Range]) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def _day(day: int, last: int) -> int:
    return day if day > 0 else last + 1 + day
