"""Times on the command line: ISO 8601 (``2026-01-01T13:00:00Z``; no offset means UTC), a
date, milliseconds since the epoch, ``now``, or relative to now (``-2h``, ``-30m``,
``-7d``, ``-90s``).

>>> NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
>>> parse_time("2026-01-01T13:00:00Z", NOW) - NOW
46800000
>>> parse_time("2026-01-01", NOW) == NOW, parse_time("now", NOW) == NOW
(True, True)
>>> NOW - parse_time("-2h", NOW), NOW - parse_time("-1d", NOW)
(7200000, 86400000)
>>> parse_time("1767225600000", NOW) == NOW
True
>>> parse_time("yesterday-ish", NOW)
Traceback (most recent call last):
...
ValueError: 'yesterday-ish' is not a time: use ISO 8601 (2026-01-01T13:00:00Z), ...
"""

from __future__ import annotations

import datetime as dt
import re

_RELATIVE = re.compile(r"-(?P<n>\d+)(?P<unit>[smhdw])")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_time(text: str, now_ms: int) -> int:
    """Milliseconds since the epoch; ``now_ms`` anchors ``now`` and relative times."""
    value = text.strip()
    if value == "now":
        return now_ms
    if value.isdigit():
        return int(value)
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now_ms - int(relative["n"]) * _UNIT_MS[relative["unit"]]
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-01-01T13:00:00Z), milliseconds, "
            "now, or -2h / -30m / -7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    """An epoch-milliseconds time as ISO 8601 UTC.

    >>> iso(1_767_225_600_000)
    '2026-01-01T00:00:00.000Z'
    """
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
