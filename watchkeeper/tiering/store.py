"""The filesystem of the cold and archive tiers: a local directory, or any URL pyarrow opens
natively (``file://``, ``s3://``, ``gs://``, ``hdfs://``, ``abfs://``) or through fsspec
(``memory://`` and every other fsspec protocol).

Files appear whole or not at all: on a local (or HDFS) filesystem a file is written under a
hidden temporary name beside its final one and renamed; object stores make a put atomic on
their own. Names that :func:`~.layout.parse_path` does not know (those temporaries, strays)
are never listed as parts.

>>> import tempfile, pyarrow as pa
>>> store = Store.open(tempfile.mkdtemp())
>>> table = pa.table({"x": [1, 2, 3]})
>>> path = "archive/topic=t/date=2026-01-01/p0000-00000000000000000000-00000000000000000002.parquet"
>>> store.write(path, table, level=19, sources=["cold/a.parquet"]) > 0
True
>>> [p.path == path for p in store.parts()], store.sources(path), store.read(path).num_rows
([True], ['cold/a.parquet'], 3)
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .layout import ARCHIVE, COLD, SOURCES_KEY, Part, parse_path, readable

ROW_GROUP_ROWS = 64 * 1024


class Store:
    """The parts under one root, and the few operations the tiers need."""

    def __init__(self, fs: pafs.FileSystem, root: str, url: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url  # what the user gave, for messages
        self._renames = fs.type_name in ("local", "hdfs")

    @classmethod
    def open(cls, url: str) -> Store:
        """The store at a local path or a filesystem URL."""
        if "://" not in url:
            local = Path(url).expanduser().resolve()
            return cls(pafs.LocalFileSystem(), local.as_posix(), url)
        try:
            fs, root = pafs.FileSystem.from_uri(url)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            import fsspec
            from pyarrow.fs import FSSpecHandler, PyFileSystem

            protocol, _, rest = url.partition("://")
            fs, root = PyFileSystem(FSSpecHandler(fsspec.filesystem(protocol))), rest
        return cls(fs, root, url)

    def _abs(self, relpath: str) -> str:
        return f"{self.root}/{relpath}"

    def location(self, relpath: str) -> str:
        """Where a reader outside pyarrow (DuckDB) finds the file."""
        if self.fs.type_name == "local":
            return self._abs(relpath)
        return f"{self.url.rstrip('/')}/{relpath}"

    # -- listing ---------------------------------------------------------------------------

    def parts(self, tier: str | None = None, topic: str | None = None) -> list[Part]:
        """Every part under the root (of one tier, of one topic), sorted."""
        found: list[Part] = []
        for name in (tier,) if tier else (COLD, ARCHIVE):
            base = f"{name}/topic={topic}" if topic else name
            selector = pafs.FileSelector(self._abs(base), recursive=True, allow_not_found=True)
            for info in self.fs.get_file_info(selector):
                if info.type != pafs.FileType.File:
                    continue
                # Some fsspec filesystems answer with a leading '/' the root lacks.
                relative = posixpath.relpath(info.path.lstrip("/"), self.root.lstrip("/"))
                part = parse_path(relative)
                if part is not None:
                    found.append(part)
        return sorted(found)

    def readable(
        self, topic: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[Part]:
        """The parts a reader of ``topic`` takes for ``[since_ms, until_ms)``: the archive
        parts and the cold parts no archive part replaced, by time bucket."""
        parts = self.parts(topic=topic)
        replaced = {s for p in parts if p.tier == ARCHIVE for s in self.sources(p.path)}
        return [p for p in readable(parts, replaced) if p.overlaps(since_ms, until_ms)]

    def sources(self, relpath: str) -> list[str]:
        """The cold parts an archive part replaced (none for a cold part)."""
        metadata = pq.read_schema(self._abs(relpath), filesystem=self.fs).metadata or {}
        raw = metadata.get(SOURCES_KEY)
        return [] if raw is None else list(json.loads(raw))

    def size(self, relpath: str) -> int:
        return self.fs.get_file_info(self._abs(relpath)).size

    # -- reading and writing ---------------------------------------------------------------

    def read(self, relpath: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self._abs(relpath), filesystem=self.fs, columns=columns)

    def write(
        self, relpath: str, table: pa.Table, level: int, sources: list[str] | None = None
    ) -> int:
        """Write ``table`` as zstd Parquet at ``relpath``, whole or not at all; its size."""
        if sources is not None:
            metadata = dict(table.schema.metadata or {})
            metadata[SOURCES_KEY] = json.dumps(sources).encode()
            table = table.replace_schema_metadata(metadata)
        final = self._abs(relpath)
        directory, name = posixpath.split(final)
        self.fs.create_dir(directory, recursive=True)
        target = f"{directory}/.{name}.{uuid.uuid4().hex[:8]}.tmp" if self._renames else final
        try:
            pq.write_table(
                table,
                target,
                filesystem=self.fs,
                compression="zstd",
                compression_level=level,
                row_group_size=ROW_GROUP_ROWS,
            )
            if target != final:
                self.fs.move(target, final)
        except BaseException:
            if target != final:
                self._discard(target)
            raise
        return self.size(relpath)

    def delete(self, relpath: str) -> None:
        # A retried retention or compaction step finds it gone already.
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self._abs(relpath))

    def _discard(self, path: str) -> None:
        with contextlib.suppress(OSError):  # the failure being raised says what went wrong
            self.fs.delete_file(path)
