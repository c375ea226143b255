"""Checking a whole archive before trusting any of it: the trailer's sha256 of the file,
the manifest's format version, then every member against the manifest (present once, in
its size and sha256, a partition's records counted and their offsets increasing), and
nothing the manifest does not name.

Then :func:`walk` reads it again for a restore, member by member.

>>> import tempfile, pathlib
>>> from .container import ArchiveWriter
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.wkb"
>>> m = Manifest(created_at_ms=0, watchkeeper_version="0", source={"prefix": "wk."})
>>> m.configs.append(FileEntry("router.yaml", "config/router.yaml", 2, "0" * 64))
>>> with ArchiveWriter(path) as out:
...     out.add_bytes(MANIFEST_MEMBER, m.to_json())
...     out.add_bytes("config/router.yaml", b"{}")
>>> try:
...     verify(path)
... except ArchiveError as refused:
...     print(str(refused).replace(m.configs[0].sha256[:16], "(zeros)"))
member config/router.yaml: sha256 44136fa355b3678a... is not the manifest's (zeros)...
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from . import records as recordfile
from .container import members
from .errors import ArchiveError
from .manifest import MANIFEST_MEMBER, FileEntry, Manifest, PartitionEntry

_CHUNK = 1 << 20
_SPOOL_BYTES = 64 << 20  # a partition's member larger than this is staged on disk


class _Hashing:
    """A reader that hashes and counts what passes through it."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


def read_manifest(path: Path, check: bool = True) -> Manifest:
    """The manifest alone (``inspect``); with ``check``, after the trailer's checksum."""
    for name, handle in members(path, check=check):
        if name != MANIFEST_MEMBER:
            raise ArchiveError(f"the first member is {name!r}, not {MANIFEST_MEMBER}")
        return Manifest.from_json(handle.read())
    raise ArchiveError("the archive has no members")


def walk(
    path: Path,
    on_partition: Callable[[PartitionEntry, Iterator[recordfile.Record]], None] | None = None,
    on_file: Callable[[FileEntry, bytes], None] | None = None,
    check: bool = True,
) -> Manifest:
    """One pass over the archive, checking each member against the manifest as it goes;
    ``on_partition`` consumes a partition's records (all or some), ``on_file`` gets a
    configuration file's bytes. Raises ArchiveError at the first inconsistency."""
    manifest: Manifest | None = None
    expected: dict[str, PartitionEntry | FileEntry] = {}
    for name, handle in members(path, check=check):
        if manifest is None:
            if name != MANIFEST_MEMBER:
                raise ArchiveError(f"the first member is {name!r}, not {MANIFEST_MEMBER}")
            manifest = Manifest.from_json(handle.read())
            expected = manifest.members()
            continue
        entry = expected.pop(name, None)
        if entry is None:
            raise ArchiveError(f"member {name} is not in the manifest (or appears twice)")
        reader = _Hashing(handle)
        if isinstance(entry, PartitionEntry):
            # Staged, then hashed, then parsed: no record is decoded (nor handed on to be
            # written) from bytes that are not the ones the manifest vouches for.
            with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
                while chunk := reader.read(_CHUNK):
                    spool.write(chunk)
                _matches(name, entry, reader)
                spool.seek(0)
                _check_partition(name, entry, spool, on_partition)
        else:
            data = reader.read()
            _matches(name, entry, reader)
            if on_file is not None:
                on_file(entry, data)
    if manifest is None:
        raise ArchiveError("the archive has no members")
    if expected:
        raise ArchiveError(f"missing members (truncated archive?): {', '.join(sorted(expected))}")
    return manifest


def verify(path: Path) -> Manifest:
    """Everything :func:`walk` checks, writing nothing anywhere."""
    return walk(path)


def _matches(name: str, entry: PartitionEntry | FileEntry, reader: _Hashing) -> bool:
    if reader.size != entry.bytes:
        raise ArchiveError(f"member {name}: {reader.size} bytes, the manifest says {entry.bytes}")
    digest = reader.digest.hexdigest()
    if digest != entry.sha256:
        raise ArchiveError(
            f"member {name}: sha256 {digest[:16]}... is not the manifest's {entry.sha256[:16]}..."
        )
    return True


def _check_partition(name, entry: PartitionEntry, reader: IO[bytes], on_partition) -> None:
    count = [0]
    last = [-1]

    def checked() -> Iterator[recordfile.Record]:
        try:
            yield from in_order()
        except ArchiveError as exc:
            if str(exc).startswith("member "):
                raise
            raise ArchiveError(f"member {name}: {exc}") from None

    def in_order() -> Iterator[recordfile.Record]:
        for record in recordfile.read(reader):
            if record.offset <= last[0]:
                raise ArchiveError(f"member {name}: offset {record.offset} after {last[0]}")
            last[0] = record.offset
            count[0] += 1
            yield record

    stream = checked()
    if on_partition is not None:
        on_partition(entry, stream)
    for _ in stream:  # what the callback did not read still counts
        pass
    if count[0] != entry.records:
        raise ArchiveError(f"member {name}: {count[0]} records, the manifest says {entry.records}")
