"""Restoring an archive: verify all of it first, refuse a non-empty target unless forced,
create the topics, write every partition back (resuming one a lost restore left half
written), then check the target's counts.

What happens to a partition that already holds ``n`` records (only with ``force``):

============================================  ==========================================
the target partition                          the restore
============================================  ==========================================
empty                                         writes the archive's records
holds the archive's first ``n`` records       resumes after them (an interrupted restore)
  (first and n-th match), n < expected
holds at least all of them (first matches)    skips it: complete
holds other records (first does not match)    appends every archive record after them
============================================  ==========================================
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..settings import KafkaSettings
from .checks import walk
from .errors import RestoreError, TargetNotEmpty
from .manifest import FileEntry, Manifest, PartitionEntry, TopicEntry
from .records import Record
from .sink import Target, Writer, spec_of


@dataclass
class PartitionResult:
    topic: str
    partition: int
    action: str  # written | resumed | complete | appended | empty
    expected: int  # archive records restored (those at or before --at)
    written: int
    target_records: int  # what the target partition holds afterwards
    end_before: int = field(default=0, repr=False)  # its end offset before this restore


@dataclass
class RestoreReport:
    prefix: str
    at_ms: int | None
    verify_s: float = 0.0  # the whole archive checked and counted
    create_s: float = 0.0  # topics created on the target
    restore_s: float = 0.0  # from the end of verification to the counts checked (all of it)
    partitions: list[PartitionResult] = field(default_factory=list)
    configs_written: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(p.written for p in self.partitions)

    @property
    def expected(self) -> int:
        return sum(p.expected for p in self.partitions)

    def summary(self) -> str:
        by_topic: dict[str, list[PartitionResult]] = {}
        for result in self.partitions:
            by_topic.setdefault(result.topic, []).append(result)
        lines = [
            f"{topic:<32} {sum(r.expected for r in rs):>8} records  "
            + ", ".join(sorted({r.action for r in rs}))
            for topic, rs in sorted(by_topic.items())
        ]
        lines.append(
            f"restored {self.expected} records ({self.written} written now) into "
            f"{len(by_topic)} topics under prefix {self.prefix!r}"
            + (f" as of {self.at_ms} ms" if self.at_ms is not None else "")
            + f"; verified in {self.verify_s:.2f} s, topics created in {self.create_s:.2f} s, "
            f"written and counted in {self.restore_s:.2f} s"
        )
        return "\n".join(lines)


def _kept(records: Iterator[Record], at_ms: int | None) -> Iterator[Record]:
    return records if at_ms is None else (r for r in records if r.timestamp_ms <= at_ms)


def plan(path: Path, at_ms: int | None) -> tuple[Manifest, dict[str, int]]:
    """Verify the whole archive and count, per member, the records a restore writes."""
    counts: dict[str, int] = {}

    def count(entry: PartitionEntry, records: Iterator[Record]) -> None:
        counts[entry.member] = sum(1 for _ in _kept(records, at_ms))

    return walk(path, on_partition=count), counts


def restore(
    settings: KafkaSettings,
    path: str | Path,
    *,
    prefix: str | None = None,
    at_ms: int | None = None,
    force: bool = False,
    progress: bool = False,
    config_out: str | Path | None = None,
) -> RestoreReport:
    """Restore ``path`` into the cluster of ``settings`` under ``prefix`` (default: the
    archive's own). Raises ArchiveError before writing anything if any check fails,
    TargetNotEmpty if a topic of the archive holds records and not ``force``."""
    path = Path(path)
    started = time.monotonic()
    manifest, counts = plan(path, at_ms)
    prefix = manifest.prefix if prefix is None else prefix
    report = RestoreReport(prefix, at_ms, verify_s=time.monotonic() - started)
    started = time.monotonic()
    topics = {prefix + t.name: t for t in manifest.topics}
    out = Path(config_out) if config_out is not None else None
    target = Target(settings)
    try:
        held = target.holdings(topics)
        if held and not force:
            raise TargetNotEmpty(held)
        if out is not None and not force:
            clash = [c.path for c in manifest.configs if (out / c.path).exists()]
            if clash:
                raise RestoreError(
                    f"configuration files exist in {out}: {', '.join(clash)}; pass --force "
                    "to overwrite them"
                )
        target.create([spec_of(t) for t in manifest.topics], prefix)
        report.create_s = time.monotonic() - started
        writer = Writer(settings)
        owner = {
            p.member: (prefix + t.name, t) for t in manifest.topics for p in t.partitions_backed
        }
        bar = tqdm(total=sum(counts.values()), unit="rec", unit_scale=True,
                   desc=f"restore {path.name}", disable=not progress)  # fmt: skip

        def put(entry: PartitionEntry, records: Iterator[Record]) -> None:
            topic, _ = owner[entry.member]
            result = _restore_partition(
                target, writer, topic, entry, _kept(records, at_ms), counts[entry.member], bar
            )
            report.partitions.append(result)

        def keep_file(entry: FileEntry, data: bytes) -> None:
            if out is None:
                return
            file = out / entry.path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(data)
            report.configs_written.append(str(file))

        walk(path, on_partition=put, on_file=keep_file)
        writer.flush()
        bar.close()
        _check_counts(target, report.partitions)
    finally:
        target.close()
    report.restore_s = time.monotonic() - started
    return report


def _restore_partition(
    target: Target,
    writer: Writer,
    topic: str,
    entry: PartitionEntry,
    records: Iterator[Record],
    expected: int,
    bar,
) -> PartitionResult:
    low, high = target.watermarks(topic, entry.partition)
    held = high - low
    first = target.record_at(topic, entry.partition, low) if held else None
    last = target.record_at(topic, entry.partition, high - 1) if held else None
    action = "written" if expected else "empty"
    skip = 0
    written = 0
    for index, record in enumerate(records):
        if index == 0 and first is not None:
            if record.same_content(first):
                action, skip = ("complete", expected) if held >= expected else ("resumed", held)
            else:
                action = "appended"  # someone else's records: ours go after them
        if index < skip:
            if index == skip - 1 and action == "resumed" and not record.same_content(last):
                raise RestoreError(
                    f"{topic}[{entry.partition}] holds {held} records that start like the "
                    f"archive's but differ at the {held}th: delete the topic and restore again"
                )
            bar.update(1)
            continue
        writer.put(topic, entry.partition, record)
        written += 1
        bar.update(1)
    # Checked at the end (one flush for the whole restore, not one per partition): the
    # end offset must have moved by exactly what was written. Not end - start: a data
    # record older than the topic's retention may be deleted by the broker at once.
    result = PartitionResult(topic, entry.partition, action, expected, written, held + written)
    result.end_before = high
    return result


def _check_counts(target: Target, results: list[PartitionResult]) -> None:
    for result in results:
        low, high = target.watermarks(result.topic, result.partition)
        if high - result.end_before != result.written:
            raise RestoreError(
                f"{result.topic}[{result.partition}]: {high - result.end_before} records "
                f"arrived on the target, {result.written} written: another writer? "
                "stop it and run the restore again with --force"
            )
        result.target_records = high - low


__all__ = ["PartitionResult", "RestoreReport", "TopicEntry", "plan", "restore"]
