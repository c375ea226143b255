"""Cron schedules in a time zone: when a scheduled retrain fires, as epoch milliseconds.

A cron expression is read on the wall clock of its zone ("0 3 * * 1" is Monday 03:00 in
Paris, winter or summer). Two wall-clock hours a year do not map one-to-one to instants,
and the choice made for each is the one cron daemons make:

- spring forward (a skipped time, 02:30 on the last Sunday of March in Paris): the fire
  happens once, at the instant the clocks jump (03:00 CEST), rather than not at all;
- fall back (a repeated time, 02:30 on the last Sunday of October): the fire happens once,
  at the first occurrence (02:30 CEST). A job every N minutes therefore pauses for the
  repeated hour's second pass; retrain schedules (daily, weekly) are unaffected.

>>> from datetime import datetime, timezone
>>> def at(ms):
...     return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat()
>>> sunday_noon = 1_774_785_600_000  # 2026-03-29T12:00Z, the day after spring forward
>>> at(next_fire_ms("0 3 * * 1", "Europe/Paris", sunday_noon))  # Monday 03:00 CEST
'2026-03-30T01:00:00+00:00'
>>> night = 1_774_738_800_000  # 2026-03-28T23:00Z, 00:00 in Paris on the day of the jump
>>> at(next_fire_ms("30 2 * * *", "Europe/Paris", night))  # 02:30 does not exist: 03:00
'2026-03-29T01:00:00+00:00'
>>> check("0 3 * * 1", "Mars/Olympus")
Traceback (most recent call last):
...
ValueError: unknown time zone 'Mars/Olympus' (an IANA name, e.g. Europe/Paris or UTC)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# Far enough to cover a leap-day schedule ("0 3 29 2 *") and the 28-year calendar cycle.
_MAX_STEPS = 100_000


@dataclass(frozen=True)
class Schedule:
    """A policy's ``triggers.schedule``: five cron fields and an IANA time zone."""

    cron: str
    timezone: str = "UTC"


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name, e.g. Europe/Paris or UTC)"
        ) from None


def check(cron: str, timezone: str) -> Schedule:
    """The schedule, or ValueError saying what is wrong with the expression or the zone.

    >>> check("0 3 * * 1", "Europe/Paris")
    Schedule(cron='0 3 * * 1', timezone='Europe/Paris')
    >>> check("0 3 * * 1 *", "UTC")
    Traceback (most recent call last):
    ...
    ValueError: cron '0 3 * * 1 *' must have 5 fields (minute hour day month weekday), not 6
    >>> check("0 3 31 2 *", "UTC")
    Traceback (most recent call last):
    ...
    ValueError: cron '0 3 31 2 *' never fires
    """
    zone(timezone)
    if not isinstance(cron, str) or not cron.strip():
        raise ValueError("cron must be a string such as '0 3 * * 1' (Mondays at 03:00)")
    fields = cron.split()
    # croniter also reads a sixth (seconds) and seventh (year) field; a retrain schedule
    # in seconds is a mistake, and a silently different meaning is worse than an error.
    if len(fields) != 5 and not (len(fields) == 1 and fields[0].lower() in ALIASES):
        raise ValueError(
            f"cron {cron!r} must have 5 fields (minute hour day month weekday), not {len(fields)}"
        )
    if not croniter.is_valid(cron):
        raise ValueError(f"cron {cron!r} is not a valid expression (e.g. '0 3 * * 1')")
    try:
        croniter(cron, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron {cron!r} never fires") from None
    return Schedule(cron, timezone)


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant of a wall-clock time: the first occurrence of a repeated one, the
    moment the clocks jump for a skipped one."""
    first = wall.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
        return first.astimezone(UTC)
    # Skipped: fold=1 reads it with the offset after the jump (an instant before the
    # jump), fold=0 with the offset before it (after the jump). The jump lies between;
    # find the first second whose wall time is at or past ``wall``.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first.astimezone(UTC)
    if high < low:
        low, high = high, low
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _ms(instant: datetime) -> int:
    return int(instant.timestamp()) * 1000 + instant.microsecond // 1000


def _wall(ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).replace(tzinfo=None)


def next_fire_ms(cron: str, timezone: str, after_ms: int) -> int:
    """The first fire strictly after ``after_ms``.

    Fall back in Paris (2026-10-25, 03:00 CEST -> 02:00 CET): 02:30 fires once, at its
    first occurrence (00:30Z), and the next is the following day's (01:30Z, in CET):

    >>> first = next_fire_ms("30 2 * * *", "Europe/Paris", 1_792_875_600_000)  # 24th 21:00Z
    >>> first, next_fire_ms("30 2 * * *", "Europe/Paris", first)
    (1792888200000, 1792978200000)
    """
    tz = zone(timezone)
    it = croniter(cron, _wall(after_ms, tz))
    # Wall-clock candidates map to nondecreasing instants; the ones in a repeated hour's
    # second pass map back before ``after_ms`` and are skipped.
    for _ in range(_MAX_STEPS):
        found = _ms(_instant(it.get_next(datetime), tz))
        if found > after_ms:
            return found
    raise ValueError(f"cron {cron!r} does not fire after {after_ms}")  # pragma: no cover


def prev_fire_ms(cron: str, timezone: str, at_or_before_ms: int) -> int:
    """The last fire at or before ``at_or_before_ms``.

    >>> prev_fire_ms("0 3 * * 1", "Europe/Paris", 1_774_839_600_000)  # Mon 30 March 03:00Z
    1774832400000
    """
    tz = zone(timezone)
    # croniter's get_prev is strictly before its start: start one minute on, since
    # fires are whole minutes.
    it = croniter(cron, _wall(at_or_before_ms, tz) + timedelta(minutes=1))
    for _ in range(_MAX_STEPS):
        found = _ms(_instant(it.get_prev(datetime), tz))
        if found <= at_or_before_ms:
            return found
    raise ValueError(f"cron {cron!r} never fired before {at_or_before_ms}")  # pragma: no cover


def due(schedule: Schedule, last_fired_ms: int, now_ms: int) -> int | None:
    """The fire to act on now, or None: the latest fire in ``(last_fired_ms, now_ms]``.

    Fires missed while the service was down collapse into one (three missed Mondays are
    one retrain, not three). The caller stores the answer as its new ``last_fired_ms``
    and uses it in the trigger's dedup key, so a restart never fires the same one twice.
    A model seen for the first time starts from "now": a schedule never fires in the
    past.

    >>> weekly = Schedule("0 3 * * 1", "Europe/Paris")
    >>> sunday = 1_774_785_600_000  # 2026-03-29T12:00Z
    >>> due(weekly, sunday, sunday + 3_600_000) is None
    True
    >>> due(weekly, sunday, sunday + 3 * 7 * 86_400_000)  # three Mondays: the last (13 April)
    1776042000000
    """
    if now_ms <= last_fired_ms:
        return None
    if next_fire_ms(schedule.cron, schedule.timezone, last_fired_ms) > now_ms:
        return None
    return prev_fire_ms(schedule.cron, schedule.timezone, now_ms)
