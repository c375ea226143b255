"""The archive file: a tar stream inside one zstd frame, then a checksum trailer.

``[zstd frame: tar(manifest.json, members...)] [zstd skippable frame: b"wkb-sum1" + sha256]``

The trailer is a zstd *skippable frame* (magic 0x184D2A5E), which every zstd decoder
ignores, so ``zstd -dc backup.wkb | tar t`` still lists an archive; it holds the sha256
of every byte before it, checked before anything is decompressed: a flipped byte or a
truncated file is caught there, and the frame's own content checksum catches it again.

Members are written from files (a tar header needs the size first), so a backup stages
them on disk beside the output; reading is one forward pass with bounded memory.

>>> import tempfile, io, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.wkb"
>>> with ArchiveWriter(path) as out:
...     out.add_bytes("manifest.json", b"{}")
...     out.add_bytes("config/router.yaml", b"route: {}")
>>> [(name, fo.read()) for name, fo in members(path)]
[('manifest.json', b'{}'), ('config/router.yaml', b'route: {}')]
>>> _ = path.write_bytes(path.read_bytes()[:-5])
>>> next(members(path))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
watchkeeper.backup.errors.ArchiveError: truncated or not a watchkeeper archive: ...trailer ...
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

import zstandard

from .errors import ArchiveError

_SKIPPABLE_MAGIC = 0x184D2A5E
_TAG = b"wkb-sum1"
TRAILER_SIZE = 4 + 4 + len(_TAG) + 32
_CHUNK = 1 << 20


class _HashingWriter(io.RawIOBase):
    """Passes writes on and hashes them (the compressed bytes the trailer covers)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.digest.update(data)
        return self.raw.write(data)


class ArchiveWriter:
    """Writes ``path`` atomically: to ``path.partial`` first, renamed when complete, so an
    interrupted backup never leaves a file that looks like an archive."""

    def __init__(self, path: Path, level: int = 10) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self._raw = open(self.partial, "wb")  # noqa: SIM115 - closed in close()
        self._hashing = _HashingWriter(self._raw)
        # Multithreaded compression leaves room for the broker on a small machine only if
        # asked for; one thread compresses state topics faster than Kafka serves them.
        compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._zstd = compressor.stream_writer(self._hashing, closefd=False)
        self._tar = tarfile.open(  # noqa: SIM115 - closed in close()
            fileobj=self._zstd, mode="w|", format=tarfile.PAX_FORMAT
        )

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        self._tar.addfile(info, io.BytesIO(data))

    def add_file(self, name: str, source: Path) -> None:
        info = tarfile.TarInfo(name)
        info.size = source.stat().st_size
        info.mode = 0o644
        with open(source, "rb") as handle:
            self._tar.addfile(info, handle)

    def close(self) -> None:
        self._tar.close()
        self._zstd.flush(zstandard.FLUSH_FRAME)
        self._zstd.close()
        digest = self._hashing.digest.digest()
        self._raw.write(struct.pack("<II", _SKIPPABLE_MAGIC, len(_TAG) + 32) + _TAG + digest)
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        self._raw.close()
        self.partial.unlink(missing_ok=True)

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, kind, *rest) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def check_trailer(path: Path) -> str:
    """The sha256 of the whole archive, checked against its trailer; return it (hex)."""
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as handle:
            if size < TRAILER_SIZE:
                raise ArchiveError("truncated or not a watchkeeper archive: it is too short")
            handle.seek(size - TRAILER_SIZE)
            trailer = handle.read(TRAILER_SIZE)
            magic, length = struct.unpack("<II", trailer[:8])
            if magic != _SKIPPABLE_MAGIC or length != len(_TAG) + 32 or trailer[8:16] != _TAG:
                raise ArchiveError(
                    "truncated or not a watchkeeper archive: no checksum trailer at its end"
                )
            handle.seek(0)
            digest = hashlib.sha256()
            left = size - TRAILER_SIZE
            while left:
                chunk = handle.read(min(_CHUNK, left))
                if not chunk:
                    raise ArchiveError("the archive changed size while it was read")
                digest.update(chunk)
                left -= len(chunk)
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
    if digest.digest() != trailer[16:]:
        raise ArchiveError(
            "archive checksum mismatch: the file is corrupt (sha256 of its content "
            f"{digest.hexdigest()[:16]}..., trailer says {trailer[16:].hex()[:16]}...)"
        )
    return digest.hexdigest()


def members(path: Path, check: bool = True) -> Iterator[tuple[str, IO[bytes]]]:
    """``(name, readable)`` for every member in order; read each before the next (one
    forward pass). Checks the trailer first unless ``check`` is False."""
    if check:
        check_trailer(path)
    try:
        with open(path, "rb") as raw:
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=False)
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for info in tar:
                    if not info.isfile():
                        raise ArchiveError(f"member {info.name!r} is not a regular file")
                    handle = tar.extractfile(info)
                    assert handle is not None  # a regular file always has one
                    yield info.name, handle
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
        raise ArchiveError(f"the archive's content is damaged: {exc}") from None
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
