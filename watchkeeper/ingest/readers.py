"""Reading a data file: one pass up front that hashes it and refuses what it is not, then
the rows, one at a time (Parquet in record batches: never the whole file in memory).

Row numbers are what a person finds in the file: for CSV and JSONL the **file line** the
row starts on (a CSV's header is line 1, so its first data row is line 2; blank JSONL
lines count as lines but are no rows); for Parquet the 1-based **row index**.

The scan (``scan``) refuses, before anything is sent, with ``InputError`` (``file:line:
reason``): a 0-byte file, text that is not in its encoding (``UnicodeDecodeError``), a CSV
without a header or with a broken quote, a JSONL line that is not a JSON object, a file that
is not Parquet (no footer, a truncated file) and a column the mapping needs that the file
does not have (``require_columns``). A CSV row with more or fewer cells than the header is a
bad row (``RowError``), not a bad file.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
>>> _ = path.write_text("id,amount\\n1,12.5\\n2,\\n3,1,extra\\n")
>>> found = scan(path)
>>> found.format, found.rows, found.columns, found.digest[:15]
('csv', 3, ['id', 'amount'], 'sha256:2d2f4091')
>>> [(n, r if isinstance(r, dict) else r.kind) for n, r in rows(found)]
[(2, {'id': '1', 'amount': '12.5'}), (3, {'id': '2', 'amount': None}), (4, 'shape')]
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import InputError, RowError

FORMATS = ("csv", "jsonl", "parquet")
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# A CSV cell may be large (a prompt, a document); past this the file is refused as broken.
CSV_FIELD_LIMIT = 16 * 1024 * 1024
PARQUET_BATCH_ROWS = 4096

Row = dict[str, Any]


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    quotechar: str = '"'
    # utf-8-sig reads plain UTF-8 too, and drops the byte-order mark spreadsheets write.
    encoding: str = "utf-8-sig"


@dataclass(frozen=True)
class Scanned:
    """What the up-front pass found: the file's content hash, format, columns, rows."""

    path: Path
    format: str
    digest: str  # "sha256:<hex>" of the file's bytes
    rows: int
    columns: list[str]
    csv: CsvOptions = field(default_factory=CsvOptions)

    def require_columns(self, needed: dict[str, tuple[str, int]]) -> None:
        """Refuse when a needed column (name -> where the mapping or a step names it) is
        not in the file; ``InputError`` at the line that names it."""
        have = set(self.columns)
        for name, (source, line) in needed.items():
            if name not in have:
                shown = ", ".join(self.columns[:20]) or "none"
                raise InputError(
                    source, line, f"column {name!r} is not in {self.path.name} (it has: {shown})"
                )


def detect_format(path: Path, declared: str | None = None) -> str:
    """The declared format, else the one its suffix says.

    >>> detect_format(Path("x.ndjson")), detect_format(Path("x.dat"), "csv")
    ('jsonl', 'csv')
    """
    if declared:
        if declared not in FORMATS:
            raise ValueError(f"unknown format {declared!r} (use {', '.join(FORMATS)})")
        return declared
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise InputError(
            str(path),
            None,
            f"cannot tell the format from {path.suffix!r}: say format: csv, "
            "jsonl or parquet in the mapping file",
        )
    return found


def scan(path: str | Path, fmt: str | None = None, options: CsvOptions | None = None) -> Scanned:
    path = Path(path)
    fmt = detect_format(path, fmt)
    options = options or CsvOptions()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(str(path), None, f"cannot read: {exc.strerror}") from None
    if size == 0:
        raise InputError(str(path), None, "the file is empty (0 bytes)")
    digest = _digest(path, options.encoding if fmt == "csv" else None)
    if fmt == "csv":
        count, columns = _scan_csv(path, options)
    elif fmt == "jsonl":
        count, columns = _scan_jsonl(path)
    else:
        count, columns = _scan_parquet(path)
    return Scanned(path, fmt, digest, count, columns, options)


def rows(scanned: Scanned) -> Iterator[tuple[int, Row | RowError]]:
    """(row number, row) per data row, or (row number, RowError) for a row that has the
    wrong shape. Empty CSV cells are None (missing), as pandas reads them."""
    if scanned.format == "csv":
        yield from _csv_rows(scanned.path, scanned.csv)
    elif scanned.format == "jsonl":
        yield from _jsonl_rows(scanned.path)
    else:
        yield from _parquet_rows(scanned.path)


def _digest(path: Path, encoding: str | None) -> str:
    """The content hash; with ``encoding``, also decode line by line, so that a byte that
    is not in the encoding is refused with its file line."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if encoding is None:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
            return "sha256:" + digest.hexdigest()
        decoder = codecs.getincrementaldecoder(encoding)()
        line = 0
        try:
            for line, raw in enumerate(handle, 1):  # noqa: B007
                digest.update(raw)
                decoder.decode(raw)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise InputError(
                str(path),
                line or 1,
                f"not {encoding} text ({exc.reason}: byte {exc.object[exc.start]:#04x}; "
                "say csv: {encoding: ...} in the mapping file)",
            ) from None
    return "sha256:" + digest.hexdigest()


# -- CSV --------------------------------------------------------------------------------


def _csv_reader(handle: io.TextIOBase, options: CsvOptions) -> Any:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    return csv.reader(handle, delimiter=options.delimiter, quotechar=options.quotechar, strict=True)


def _scan_csv(path: Path, options: CsvOptions) -> tuple[int, list[str]]:
    count = 0
    with open(path, encoding=options.encoding, newline="") as handle:
        reader = _csv_reader(handle, options)
        try:
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise InputError(str(path), 1, "no header row (the first line names the columns)")
            columns = [h.strip() for h in header]
            seen: set[str] = set()
            for name in columns:
                if not name or name in seen:
                    what = "an empty" if not name else f"a duplicate ({name!r})"
                    raise InputError(str(path), 1, f"the header has {what} column name")
                seen.add(name)
            for _ in reader:
                count += 1
        except csv.Error as exc:
            raise InputError(str(path), reader.line_num, f"not valid CSV: {exc}") from None
    return count, columns


def _csv_rows(path: Path, options: CsvOptions) -> Iterator[tuple[int, Row | RowError]]:
    with open(path, encoding=options.encoding, newline="") as handle:
        reader = _csv_reader(handle, options)
        columns = [h.strip() for h in next(reader)]
        width = len(columns)
        start = reader.line_num + 1
        for cells in reader:
            if len(cells) != width:
                if not cells:  # csv gives [] for a blank line: no row
                    start = reader.line_num + 1
                    continue
                error = RowError("shape", f"{len(cells)} cells, the header has {width}", cells)
                yield start, error
            else:
                pairs = zip(columns, cells, strict=True)
                yield start, {c: (v if v != "" else None) for c, v in pairs}
            start = reader.line_num + 1


# -- JSONL ------------------------------------------------------------------------------


def _jsonl_objects(path: Path) -> Iterator[tuple[int, Row]]:
    with open(path, "rb") as handle:
        for line, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                reason = "not UTF-8 text" if "utf-8" in str(exc).lower() else "not JSON"
                raise InputError(str(path), line, f"{reason}: {exc}") from None
            if not isinstance(value, dict):
                raise InputError(str(path), line, f"not a JSON object but {type(value).__name__}")
            yield line, value


def _scan_jsonl(path: Path) -> tuple[int, list[str]]:
    count = 0
    columns: dict[str, None] = {}
    for _, row in _jsonl_objects(path):
        count += 1
        if len(columns) < 10_000:  # a hostile file with a new key per line stays bounded
            columns.update(dict.fromkeys(row))
    return count, list(columns)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Row | RowError]]:
    yield from _jsonl_objects(path)


# -- Parquet ----------------------------------------------------------------------------


def _open_parquet(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(str(path), None, f"not a readable Parquet file: {exc}") from None


def _scan_parquet(path: Path) -> tuple[int, list[str]]:
    parquet = _open_parquet(path)
    try:
        return parquet.metadata.num_rows, list(parquet.schema_arrow.names)
    finally:
        parquet.close()


def _parquet_rows(path: Path) -> Iterator[tuple[int, Row | RowError]]:
    import pyarrow as pa

    parquet = _open_parquet(path)
    number = 0
    try:
        # Row group by row group: a page broken in one shows only when it is read, and the
        # rows of the groups before it are then already given (and may be committed).
        for group in range(parquet.metadata.num_row_groups):
            batches = parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group])
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except (pa.ArrowException, OSError) as exc:
                    reason = " ".join(str(exc).split())
                    raise InputError(
                        str(path), number + 1, f"cannot read Parquet: {reason}"
                    ) from None
                for row in batch.to_pylist():
                    number += 1
                    yield number, row
    finally:
        parquet.close()
