"""Building archives by hand for the backup tests (damaged ones too), and a second, empty
Kafka cluster to restore into."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

from watchkeeper.backup import records as recordfile
from watchkeeper.backup.container import ArchiveWriter
from watchkeeper.backup.manifest import (
    MANIFEST_MEMBER,
    FileEntry,
    Manifest,
    PartitionEntry,
    TopicEntry,
)
from watchkeeper.backup.records import CREATE_TIME, Record
from watchkeeper.local_kafka import LocalKafka
from watchkeeper.ports import free_port


def record(offset: int, ts: int, key: bytes | None, value: bytes | None, **headers) -> Record:
    return Record(offset, ts, CREATE_TIME, key, value, [(k, v) for k, v in headers.items()])


def build(
    path: Path,
    topics: dict[str, dict[int, list[Record]]],
    files: dict[str, bytes] | None = None,
    edit: Callable[[dict], None] | None = None,
    drop: str | None = None,
    replace: dict[str, bytes] | None = None,
) -> Manifest:
    """An archive of ``topics`` ({logical name: {partition: records}}) and ``files``;
    ``edit`` changes the manifest's JSON before it is written, ``drop`` leaves a member
    out, ``replace`` writes other bytes for a member than the manifest describes."""
    manifest = Manifest(
        created_at_ms=1765000000000,
        watchkeeper_version="test",
        source={"bootstrap": "nowhere:9092", "cluster_id": "test", "prefix": "wk."},
    )
    members: dict[str, bytes] = {}
    for name, partitions in topics.items():
        entry = TopicEntry(name, "state", max(partitions) + 1, compacted=True)
        for partition, recs in sorted(partitions.items()):
            buf = io.BytesIO()
            stats = recordfile.write(buf, iter(recs))
            data = buf.getvalue()
            member = f"topics/{name}/{partition}.avro"
            members[member] = data
            entry.partitions_backed.append(
                PartitionEntry(
                    partition,
                    member,
                    stats.records,
                    len(data),
                    hashlib.sha256(data).hexdigest(),
                    stats.first_offset,
                    stats.last_offset,
                    (stats.last_offset or -1) + 1,
                    stats.first_timestamp_ms,
                    stats.last_timestamp_ms,
                )
            )
        manifest.topics.append(entry)
    for relative, data in (files or {}).items():
        member = f"config/{relative}"
        members[member] = data
        sha = hashlib.sha256(data).hexdigest()
        manifest.configs.append(FileEntry(relative, member, len(data), sha))
    raw = manifest.to_json()
    if edit is not None:
        body = json.loads(raw)
        edit(body)
        raw = json.dumps(body).encode()
    with ArchiveWriter(path) as out:
        out.add_bytes(MANIFEST_MEMBER, raw)
        for member, data in members.items():
            if member != drop:
                out.add_bytes(member, (replace or {}).get(member, data))
    return manifest


class SecondCluster:
    """A fresh single-node Kafka on free ports under ``home`` (the restore target)."""

    def __init__(self, home: Path) -> None:
        self.broker = LocalKafka(home=home, port=free_port(), controller_port=free_port())

    def __enter__(self) -> str:
        return self.broker.up(timeout=120)

    def __exit__(self, *exc) -> None:
        self.broker.down()
