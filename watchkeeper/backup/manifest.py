"""The archive's table of contents (``manifest.json``, its first member): what was backed
up from where, and for every other member its size, sha256 and record count, so that a
restore can check the whole archive before it writes anything.

``format_version`` is ``MAJOR.MINOR``: a reader takes any minor of its own major (minors
only add fields, which older readers ignore) and refuses a newer major.

>>> m = Manifest(created_at_ms=1765000000000, watchkeeper_version="0.1.0",
...              source={"bootstrap": "127.0.0.1:9092", "cluster_id": "x", "prefix": "wk."})
>>> part = PartitionEntry(0, "topics/silences/0.avro", records=3, bytes=410, sha256="ab" * 32)
>>> m.topics.append(TopicEntry("silences", "state", 1, compacted=True, partitions_backed=[part]))
>>> again = Manifest.from_json(m.to_json())
>>> again == m, again.topics[0].records, again.members()["topics/silences/0.avro"].records
(True, 3, 3)
>>> Manifest.from_json(m.to_json().replace(b'"1.0"', b'"2.0"'))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
watchkeeper.backup.errors.ArchiveError: archive format_version 2.0 is newer than this ... (1.x): ...
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .errors import ArchiveError

FORMAT_VERSION = "1.0"
MANIFEST_MEMBER = "manifest.json"


@dataclass
class PartitionEntry:
    """One topic-partition's member: its records as of the backup's cut."""

    partition: int
    member: str
    records: int
    bytes: int
    sha256: str
    first_offset: int | None = None  # source offsets of the first and last record kept
    last_offset: int | None = None
    end_offset: int = 0  # the cut: the source's last stable offset when the backup began
    first_timestamp_ms: int | None = None
    last_timestamp_ms: int | None = None


@dataclass
class TopicEntry:
    """One topic: its spec (to create it again) and its partitions' members."""

    name: str  # logical, without the prefix
    kind: str  # "state" (compacted or kept forever) or "data" (a time range)
    partitions: int
    compacted: bool = False
    retention_ms: int | None = None
    configs: dict[str, str] = field(default_factory=dict)  # the source's non-default ones
    partitions_backed: list[PartitionEntry] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions_backed)

    def timestamps(self) -> tuple[int | None, int | None]:
        firsts = [p.first_timestamp_ms for p in self.partitions_backed if p.records]
        lasts = [p.last_timestamp_ms for p in self.partitions_backed if p.records]
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)


@dataclass
class FileEntry:
    """One configuration file, by its path relative to the backed-up folder."""

    path: str
    member: str
    bytes: int
    sha256: str


@dataclass
class Manifest:
    created_at_ms: int
    watchkeeper_version: str
    source: dict[str, str]  # bootstrap, cluster_id, prefix
    format_version: str = FORMAT_VERSION
    data_range: dict[str, int | None] | None = None  # since_ms/until_ms of data topics
    topics: list[TopicEntry] = field(default_factory=list)
    configs: list[FileEntry] = field(default_factory=list)
    absent_topics: list[str] = field(default_factory=list)  # declared, not on the source

    def members(self) -> dict[str, PartitionEntry | FileEntry]:
        """Every member after the manifest, by name."""
        found: dict[str, PartitionEntry | FileEntry] = {
            p.member: p for t in self.topics for p in t.partitions_backed
        }
        found.update({c.member: c for c in self.configs})
        return found

    @property
    def prefix(self) -> str:
        return self.source.get("prefix", "")

    def to_json(self) -> bytes:
        body = asdict(self)
        for topic, entry in zip(body["topics"], self.topics, strict=True):
            first, last = entry.timestamps()
            topic.update(records=entry.records, first_timestamp_ms=first, last_timestamp_ms=last)
        return json.dumps(body, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ArchiveError(f"{MANIFEST_MEMBER} is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ArchiveError(f"{MANIFEST_MEMBER} is not a JSON object")
        check_version(body.get("format_version"))
        try:
            topics = [_topic(t) for t in body.pop("topics")]
            configs = [FileEntry(**c) for c in body.pop("configs")]
            known = {k: body[k] for k in cls.__dataclass_fields__ if k in body}
            manifest = cls(**known, topics=topics, configs=configs)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ArchiveError(f"{MANIFEST_MEMBER} is malformed: {exc!r}") from None
        if len(manifest.members()) != sum(len(t.partitions_backed) for t in topics) + len(configs):
            raise ArchiveError(f"{MANIFEST_MEMBER} names one member twice")
        for entry in configs:
            # A restore writes these under --config-out: never outside it.
            if not safe_relative(entry.path):
                raise ArchiveError(f"{MANIFEST_MEMBER}: unsafe configuration path {entry.path!r}")
        return manifest


def _topic(raw: dict[str, Any]) -> TopicEntry:
    raw = dict(raw)
    parts = [PartitionEntry(**p) for p in raw.pop("partitions_backed")]
    fields = {k: raw[k] for k in TopicEntry.__dataclass_fields__ if k in raw}
    return TopicEntry(**{**fields, "partitions_backed": parts})


def safe_relative(path: Any) -> bool:
    """A relative path that stays inside the folder it is joined to.

    >>> [safe_relative(p) for p in ("router.yaml", "rollouts/a.yaml", "../x", "/etc/x", "")]
    [True, True, False, False, False]
    """
    if not isinstance(path, str) or not path or "\\" in path or "\0" in path:
        return False
    pure = PurePosixPath(path)
    return not pure.is_absolute() and ".." not in pure.parts and pure.parts[0] != "~"


def check_version(version: Any) -> None:
    """Refuse a version this reader does not know how to read (a newer major, or junk)."""
    ours = int(FORMAT_VERSION.split(".")[0])
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        raise ArchiveError(f"archive format_version {version!r} is not MAJOR.MINOR") from None
    if major > ours:
        raise ArchiveError(
            f"archive format_version {version} is newer than this watchkeeper reads "
            f"({ours}.x): restore it with a newer watchkeeper"
        )
    if major < 1:
        raise ArchiveError(f"archive format_version {version} is not one watchkeeper wrote")
