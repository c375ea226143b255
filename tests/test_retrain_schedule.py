"""Cron schedules in a time zone (services/retrain/schedule.py), across both DST changes."""

from datetime import UTC, datetime

import pytest

from services.retrain.schedule import Schedule, check, due, next_fire_ms, prev_fire_ms

PARIS = "Europe/Paris"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def fires(cron: str, tz: str, start_ms: int, end_ms: int) -> list[int]:
    found, at = [], start_ms
    while (at := next_fire_ms(cron, tz, at)) <= end_ms:
        found.append(at)
    return found


def test_weekly_keeps_local_time_across_spring_forward():
    before = next_fire_ms("0 3 * * 1", PARIS, ms("2026-03-22T12:00"))
    after = next_fire_ms("0 3 * * 1", PARIS, before)
    assert before == ms("2026-03-23T02:00")  # 03:00 CET
    assert after == ms("2026-03-30T01:00")  # 03:00 CEST


def test_spring_forward_skipped_time_fires_once_at_the_jump():
    first = next_fire_ms("30 2 * * *", PARIS, ms("2026-03-28T23:00"))
    assert first == ms("2026-03-29T01:00")  # 02:30 does not exist: 03:00 CEST
    assert next_fire_ms("30 2 * * *", PARIS, first) == ms("2026-03-30T00:30")


def test_spring_forward_day_has_23_hourly_fires():
    # Local 29 March 00:00 CET .. 30 March 00:00 CEST: 23 real hours; 02:00 does not
    # exist and falls on 03:00, which fires once.
    found = fires("0 * * * *", PARIS, ms("2026-03-28T22:59"), ms("2026-03-29T21:59"))
    assert len(found) == 23
    assert found == sorted(set(found))
    assert found[2] == ms("2026-03-29T01:00")


def test_fall_back_repeated_time_fires_once_first_occurrence():
    first = next_fire_ms("30 2 * * *", PARIS, ms("2026-10-24T21:00"))
    assert first == ms("2026-10-25T00:30")  # 02:30 CEST, not 02:30 CET an hour later
    assert next_fire_ms("30 2 * * *", PARIS, first) == ms("2026-10-26T01:30")
    # From inside the repeated hour's second pass, the next is tomorrow's.
    assert next_fire_ms("30 2 * * *", PARIS, ms("2026-10-25T01:10")) == ms("2026-10-26T01:30")


def test_fall_back_day_has_24_hourly_fires():
    # Local 25 October: 25 real hours, 24 wall-clock hours; 02:00 fires once.
    found = fires("0 * * * *", PARIS, ms("2026-10-24T21:59"), ms("2026-10-25T22:59"))
    assert len(found) == 24
    assert found == sorted(set(found))


def test_prev_fire_is_inclusive():
    monday = ms("2026-03-30T01:00")
    assert prev_fire_ms("0 3 * * 1", PARIS, monday) == monday
    assert prev_fire_ms("0 3 * * 1", PARIS, monday - 1) == ms("2026-03-23T02:00")


def test_due_collapses_missed_fires_and_never_repeats():
    weekly = Schedule("0 3 * * 1", PARIS)
    start = ms("2026-03-29T12:00")
    assert due(weekly, start, ms("2026-03-30T00:59")) is None
    fired = due(weekly, start, ms("2026-03-30T01:00"))
    assert fired == ms("2026-03-30T01:00")
    assert due(weekly, fired, fired + 3_600_000) is None
    assert due(weekly, fired, ms("2026-04-20T12:00")) == ms("2026-04-20T01:00")
    assert due(weekly, start, start) is None


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("0 3 * * 1", "Europe/Pariss", "unknown time zone 'Europe/Pariss'"),
        ("0 3 * *", "UTC", "must have 5 fields"),
        ("0 0 3 * * 1", "UTC", "must have 5 fields"),
        ("61 3 * * 1", "UTC", "not a valid expression"),
        ("0 3 30 2 *", "UTC", "never fires"),
        ("", "UTC", "cron must be a string"),
    ],
)
def test_check_refuses_with_the_reason(cron, zone, message):
    with pytest.raises(ValueError, match=message):
        check(cron, zone)


def test_check_accepts_aliases():
    assert check("@weekly", "UTC") == Schedule("@weekly", "UTC")
    assert next_fire_ms("@daily", "UTC", ms("2026-01-01T10:00")) == ms("2026-01-02T00:00")
