"""The holdout file (CSV with a header, or JSON Lines) and the columns a gate reads.

Every problem is a :class:`UsageError` naming ``file:line``, never a traceback:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "holdout.csv"
>>> _ = path.write_text("y,score,group\\n1,0.9,a\\n0,0.2,b\\n1,high,a\\n")
>>> rows = read_rows(path)
>>> labels(rows, "y", path)
[1, 0, 1]
>>> scores(rows[:2], "score", path)
[0.9, 0.2]
>>> scores(rows, "score", path)
Traceback (most recent call last):
...
watchkeeper.gates.report.UsageError: ...holdout.csv:4: column score: 'high' is not a number
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .report import UsageError

Row = dict[str, Any]
TRUE, FALSE = {"1", "1.0", "true", "yes"}, {"0", "0.0", "false", "no"}


def read_rows(path: str | Path) -> list[Row]:
    """The rows of a ``.csv`` or ``.jsonl``/``.ndjson`` file; each row knows its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the holdout file: {exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        rows = [{**row, "__line__": reader.line_num} for row in reader]
    elif suffix in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(row, dict):
                raise UsageError(f"{path}:{number}: expected a JSON object per line")
            rows.append({**row, "__line__": number})
    else:
        raise UsageError(f"{path}: a holdout file is .csv or .jsonl, not {suffix or 'no suffix'}")
    if not rows:
        raise UsageError(f"{path}: the holdout file has no rows")
    return rows


def _cell(row: Row, column: str, path: Path | str) -> Any:
    if column not in row or row[column] in (None, ""):
        raise UsageError(f"{path}:{row['__line__']}: no value in column {column}")
    return row[column]


def labels(rows: Sequence[Row], column: str, path: Path | str) -> list[int]:
    """Binary labels: 1/0, true/false, yes/no."""
    found = []
    for row in rows:
        value = _cell(row, column, path)
        text = str(value).strip().lower()
        if text not in TRUE | FALSE:
            raise UsageError(f"{path}:{row['__line__']}: column {column}: {value!r} is not 0 or 1")
        found.append(1 if text in TRUE else 0)
    return found


def scores(rows: Sequence[Row], column: str, path: Path | str) -> list[float]:
    found = []
    for row in rows:
        value = _cell(row, column, path)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            where = f"{path}:{row['__line__']}"
            raise UsageError(f"{where}: column {column}: {value!r} is not a number")
        found.append(number)
    return found


def groups(rows: Sequence[Row], column: str, path: Path | str) -> list[str]:
    return [str(_cell(row, column, path)) for row in rows]


def predictor(spec: str, option: str) -> Callable[[list[Row]], Sequence[float]]:
    """``module:function`` (importable from the working directory), called with the rows."""
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise UsageError(f"{option} {spec!r}: expected module:function")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # the CI step's working directory, as `python -m` has it
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"{option} {spec!r}: cannot import {module_name}: {exc}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise UsageError(f"{option} {spec!r}: {module_name} has no function {name}")
    return function


def predicted(spec: str, rows: list[Row], option: str) -> list[float]:
    """The scores ``spec`` gives for ``rows`` (without the line numbers), one per row."""
    plain = [{k: v for k, v in row.items() if k != "__line__"} for row in rows]
    found = list(predictor(spec, option)(plain))
    if len(found) != len(rows):
        raise UsageError(f"{spec} returned {len(found)} scores for {len(rows)} rows")
    try:
        numbers = [float(v) for v in found]
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{spec} returned a score that is not a number: {exc}") from None
    if not all(math.isfinite(v) for v in numbers):
        raise UsageError(f"{spec} returned a score that is not finite")
    return numbers
