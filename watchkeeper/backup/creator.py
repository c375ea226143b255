"""Writing a backup: which topics (every declared state topic, and data topics when a time
range is asked for), read to the cut into staged member files, then one archive."""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from .. import __version__
from .._paths import REPO_ROOT
from ..settings import KafkaSettings
from ..topics import TOPICS, TopicSpec, full_name
from . import records as recordfile
from .container import ArchiveWriter
from .manifest import MANIFEST_MEMBER, FileEntry, Manifest, PartitionEntry, TopicEntry
from .source import Cut, Source

DEFAULT_CONFIG_DIR = REPO_ROOT / "deploy"


def is_state(spec: TopicSpec) -> bool:
    """A topic whose records are state someone rebuilds from: compacted, or kept forever
    (the control plane's ``*-history`` journals, replayed at start-up).

    >>> from watchkeeper.topics import spec
    >>> [is_state(spec(n)) for n in ("silences", "registry-history", "predictions")]
    [True, True, False]
    """
    return spec.compacted or spec.retention_ms == -1


def config_files(config_dir: Path) -> list[Path]:
    """Every regular file under ``config_dir`` but hidden ones, sorted.

    >>> names = [p.relative_to(DEFAULT_CONFIG_DIR).as_posix()
    ...          for p in config_files(DEFAULT_CONFIG_DIR)]
    >>> "slo-rules.yaml" in names, "ci/github-actions.yml" in names, names == sorted(names)
    (True, True, True)
    """
    return sorted(
        p
        for p in config_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(config_dir).parts)
    )


def create(
    settings: KafkaSettings,
    path: str | Path,
    *,
    prefix: str,
    data_since_ms: int | None = None,
    data_until_ms: int | None = None,
    config_dir: str | Path | None = None,
    progress: bool = False,
) -> Manifest:
    """Back up the installation under ``prefix`` into ``path``; return its manifest.

    Data topics are included when either bound is given (the other is open); their
    records are those with ``data_since_ms <= timestamp <= data_until_ms``.
    """
    path = Path(path)
    explicit = config_dir is not None
    folder = Path(config_dir) if explicit else DEFAULT_CONFIG_DIR
    if explicit and not folder.is_dir():
        raise ValueError(f"--config-dir {folder} is not a folder")
    with_data = data_since_ms is not None or data_until_ms is not None
    if data_since_ms is not None and data_until_ms is not None and data_since_ms > data_until_ms:
        raise ValueError("--data-since is after --data-until")
    source = Source(settings)
    try:
        chosen = [s for s in TOPICS if is_state(s) or with_data]
        present = {
            full_name(s.name, prefix): s
            for s in chosen
            if full_name(s.name, prefix) in source.partitions
        }
        manifest = Manifest(
            created_at_ms=int(time.time() * 1000),
            watchkeeper_version=__version__,
            source={
                "bootstrap": settings.bootstrap_servers,
                "cluster_id": source.cluster_id,
                "prefix": prefix,
            },
            data_range={"since_ms": data_since_ms, "until_ms": data_until_ms}
            if with_data
            else None,
            absent_topics=[s.name for s in chosen if s not in present.values()],
        )
        since = {
            name: data_since_ms
            for name, s in present.items()
            if not is_state(s) and data_since_ms is not None
        }
        cut = source.cut(list(present), since)  # before reading anything: one moment's state
        configs = source.configs(list(present))
        for name, spec in present.items():
            manifest.topics.append(
                TopicEntry(
                    spec.name,
                    "state" if is_state(spec) else "data",
                    source.partitions[name],
                    compacted=spec.compacted,
                    retention_ms=spec.retention_ms,
                    configs=configs[name],
                )
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".wkb-", dir=path.parent) as staging:
            staged = _stage_topics(Path(staging), source, cut, present, data_until_ms, progress)
            for entry, name in zip(manifest.topics, present, strict=True):
                for partition in range(entry.partitions):
                    meta, file = staged[(name, partition)]
                    entry.partitions_backed.append(meta)
            files = [(m.member, f) for m, f in staged.values()]
            if folder.is_dir():
                for file in config_files(folder):
                    relative = file.relative_to(folder).as_posix()
                    member = f"config/{relative}"
                    manifest.configs.append(
                        FileEntry(relative, member, file.stat().st_size, _sha256(file))
                    )
                    files.append((member, file))
            with ArchiveWriter(path) as archive:
                archive.add_bytes(MANIFEST_MEMBER, manifest.to_json())
                for member, file in files:
                    archive.add_file(member, file)
    finally:
        source.close()
    return manifest


def _stage_topics(
    staging: Path,
    source: Source,
    cut: Cut,
    topics: dict[str, TopicSpec],
    data_until_ms: int | None,
    progress: bool,
) -> dict[tuple[str, int], tuple[PartitionEntry, Path]]:
    """Every partition of the cut read into its own record file under ``staging``."""
    bar = tqdm(
        total=sum(end - start for start, end in cut.values()),
        unit="rec",
        unit_scale=True,
        desc="backup",
        disable=not progress,
    )
    handles = {}
    files: dict[tuple[str, int], tuple[Path, recordfile.RecordFile]] = {}
    try:
        for name, partition in cut:
            file = staging / f"{name}.{partition}.avro"
            handles[(name, partition)] = open(file, "wb")  # noqa: SIM115 - closed below
            files[(name, partition)] = (file, recordfile.RecordFile(handles[(name, partition)]))
        for name, partition, record in source.read(cut):
            bar.update(1)
            until = None if is_state(topics[name]) else data_until_ms
            if until is None or record.timestamp_ms <= until:
                files[(name, partition)][1].add(record)
        staged = {}
        for (name, partition), (file, records) in files.items():
            stats = records.finish()
            handles[(name, partition)].close()
            logical = topics[name].name
            staged[(name, partition)] = (
                PartitionEntry(
                    partition,
                    f"topics/{logical}/{partition}.avro",
                    records=stats.records,
                    bytes=file.stat().st_size,
                    sha256=_sha256(file),
                    first_offset=stats.first_offset,
                    last_offset=stats.last_offset,
                    end_offset=cut[(name, partition)][1],
                    first_timestamp_ms=stats.first_timestamp_ms,
                    last_timestamp_ms=stats.last_timestamp_ms,
                ),
                file,
            )
        return staged
    finally:
        for handle in handles.values():
            handle.close()
        bar.close()


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
