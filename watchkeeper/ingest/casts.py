"""Turning a cell into a typed value: the casts of ``cast`` steps and of the mapping.

Every cast takes what a reader gives (text from CSV, JSON values, Parquet's Python values)
and raises ``ValueError`` with the reason when the value is not of that type. Booleans are
never numbers here (``True`` is not 1.0), and a number with a fraction is no integer.

>>> to_float(" 12.5 "), to_int("12"), to_int(12.0), to_bool("yes"), to_str(3)
(12.5, 12, 12, True, '3')
>>> to_int("12.5")
Traceback (most recent call last):
...
ValueError: cannot read '12.5' as an integer
>>> to_time_ms("2025-12-01T10:00:00Z", "iso"), to_time_ms("1764583200", "epoch_s")
(1764583200000, 1764583200000)
>>> to_time_ms(1764583200000, "auto"), to_time_ms("2025-12-01 10:00:00", "auto")
(1764583200000, 1764583200000)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

TRUE = frozenset({"true", "t", "yes", "y", "1"})
FALSE = frozenset({"false", "f", "no", "n", "0"})
TIME_FORMATS = ("auto", "iso", "epoch_s", "epoch_ms")
# "auto": a number below this is epoch seconds, above it milliseconds (1e11 s is year 5138,
# 1e11 ms is March 1973: no data set mixes the two readings).
_EPOCH_MS_FROM = 1e11


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise ValueError(f"cannot read {_show(value)} as text")


def to_float(value: Any) -> float:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ValueError(f"cannot read {_show(value)} as a number")


def to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
    raise ValueError(f"cannot read {_show(value)} as an integer")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
    raise ValueError(f"cannot read {_show(value)} as true or false")


def to_time_ms(value: Any, how: str = "auto") -> int:
    """Epoch milliseconds of ``value``: ``iso`` (ISO 8601; no zone means UTC), ``epoch_s``,
    ``epoch_ms``, or ``auto`` (a datetime as it is, a number by its size, text either)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    if how == "iso" or (how == "auto" and isinstance(value, str) and not _numeric(value)):
        if not isinstance(value, str):
            raise ValueError(f"cannot read {_show(value)} as an ISO 8601 time")
        try:
            return to_time_ms(datetime.fromisoformat(value.strip()))
        except ValueError:
            raise ValueError(f"cannot read {_show(value)} as an ISO 8601 time") from None
    number = to_float(value)
    if not math.isfinite(number):
        raise ValueError(f"{_show(value)} is no time")
    if how == "epoch_s" or (how == "auto" and abs(number) < _EPOCH_MS_FROM):
        number *= 1000
    return round(number)


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


CASTS: dict[str, Callable[[Any], Any]] = {
    "str": to_str,
    "string": to_str,
    "float": to_float,
    "number": to_float,
    "int": to_int,
    "integer": to_int,
    "bool": to_bool,
    "boolean": to_bool,
    "time_ms": to_time_ms,
}
