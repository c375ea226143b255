"""``watchkeeper backup OUT.wkb``, ``watchkeeper backup inspect IN.wkb`` and
``watchkeeper restore IN.wkb``. A refusal (a bad archive, a non-empty target, a bad
argument) exits 2 with the reason on stderr; Kafka failing under us exits 1.

>>> parse_time("1765100000000"), parse_time("2025-12-07T09:33:20Z")
(1765100000000, 1765100000000)
>>> parse_time("2025-12-07T10:33:20+01:00"), parse_time("2025-12-07T09:33:20")
(1765100000000, 1765100000000)
>>> parse_time("yesterday")
Traceback (most recent call last):
...
ValueError: 'yesterday' is neither milliseconds since the epoch nor an ISO-8601 time
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import KafkaException

from ..settings import KafkaSettings, topic_prefix
from .errors import ArchiveError, RestoreError, TargetNotEmpty
from .manifest import Manifest


def parse_time(text: str) -> int:
    """Milliseconds since the epoch, from themselves or an ISO-8601 time (UTC if it names
    no zone)."""
    if text.strip().lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither milliseconds since the epoch nor an ISO-8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: KAFKA_*)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="OUT.wkb", help="the archive to write ('inspect' IN.wkb: "
                        "show an archive's manifest)")  # fmt: skip
    parser.add_argument("inspected", nargs="?", metavar="IN.wkb", help=argparse.SUPPRESS)
    _common(parser)
    parser.add_argument("--prefix", default=None, help="topic prefix (default WK_TOPIC_PREFIX)")
    parser.add_argument("--data-since", type=parse_time, metavar="T",
                        help="include data topics' records from T (ISO-8601 or ms)")  # fmt: skip
    parser.add_argument("--data-until", type=parse_time, metavar="T",
                        help="include data topics' records up to T (ISO-8601 or ms)")  # fmt: skip
    parser.add_argument("--config-dir", type=Path, default=None,
                        help="configuration to include (default: the repo's deploy/)")  # fmt: skip


def add_restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="IN.wkb")
    _common(parser)
    parser.add_argument("--prefix", default=None, help="target prefix (default: the archive's)")
    parser.add_argument("--at", type=parse_time, metavar="T",
                        help="only records at or before T: the state as of T")  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="write into a target that holds records already")  # fmt: skip
    parser.add_argument("--verify-only", action="store_true",
                        help="check the archive and write nothing")  # fmt: skip
    parser.add_argument("--config-out", type=Path, default=None,
                        help="also write the archive's configuration files here")  # fmt: skip


def _settings(args: argparse.Namespace) -> KafkaSettings:
    settings = KafkaSettings.from_env()
    if args.bootstrap:
        settings = dataclasses.replace(settings, bootstrap_servers=args.bootstrap)
    return settings


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def describe(manifest: Manifest) -> str:
    """The manifest as a short table: one line per topic, then the totals."""
    source = manifest.source
    created = datetime.fromtimestamp(manifest.created_at_ms / 1000, UTC).isoformat()
    lines = [
        f"format {manifest.format_version}, watchkeeper {manifest.watchkeeper_version}, "
        f"created {created}",
        f"source {source.get('bootstrap')} (cluster {source.get('cluster_id')}), "
        f"prefix {manifest.prefix!r}",
    ]
    if manifest.data_range:
        lines.append(f"data range {manifest.data_range}")
    for topic in manifest.topics:
        first, last = topic.timestamps()
        lines.append(
            f"  {topic.name:<24} {topic.kind:<5} {topic.partitions:>3} partitions "
            f"{topic.records:>9} records  {first or '-'} .. {last or '-'}"
        )
    for entry in manifest.configs:
        lines.append(f"  config {entry.path} ({entry.bytes} bytes)")
    if manifest.absent_topics:
        lines.append(f"not on the source: {', '.join(manifest.absent_topics)}")
    records = sum(t.records for t in manifest.topics)
    lines.append(f"{len(manifest.topics)} topics, {records} records, {len(manifest.configs)} files")
    return "\n".join(lines)


def _refused(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


def _kafka_failed(exc: Exception) -> int:
    print(f"error: Kafka: {exc}", file=sys.stderr)
    return 1


def main_backup(args: argparse.Namespace) -> int:
    from .checks import read_manifest

    try:
        if args.path == "inspect" and args.inspected:
            print(describe(read_manifest(Path(args.inspected))))
            return 0
        if args.inspected:
            return _refused(ValueError(f"unexpected argument {args.inspected!r}"))
        from .creator import create

        started = time.monotonic()
        manifest = create(
            _settings(args),
            args.path,
            prefix=topic_prefix() if args.prefix is None else args.prefix,
            data_since_ms=args.data_since,
            data_until_ms=args.data_until,
            config_dir=args.config_dir,
            progress=_progress(args),
        )
    except (ArchiveError, ValueError) as exc:
        return _refused(exc)
    except (KafkaException, TimeoutError) as exc:
        return _kafka_failed(exc)
    size = os.path.getsize(args.path)
    records = sum(t.records for t in manifest.topics)
    print(
        f"wrote {args.path}: {len(manifest.topics)} topics, {records} records, "
        f"{len(manifest.configs)} files, {size} bytes in {time.monotonic() - started:.2f} s"
    )
    return 0


def main_restore(args: argparse.Namespace) -> int:
    from .restorer import plan, restore

    try:
        if args.verify_only:
            started = time.monotonic()
            manifest, counts = plan(Path(args.path), args.at)
            print(describe(manifest))
            print(
                f"verified: every checksum and count matches; {sum(counts.values())} records "
                f"to restore in {time.monotonic() - started:.2f} s"
            )
            return 0
        report = restore(
            _settings(args),
            args.path,
            prefix=args.prefix,
            at_ms=args.at,
            force=args.force,
            progress=_progress(args),
            config_out=args.config_out,
        )
    except (ArchiveError, TargetNotEmpty, RestoreError, ValueError) as exc:
        return _refused(exc)
    except (KafkaException, TimeoutError) as exc:
        return _kafka_failed(exc)
    print(report.summary())
    return 0


def add_commands(sub) -> None:
    """``backup`` and ``restore`` on the top-level ``watchkeeper`` parser."""
    backup = sub.add_parser("backup", help="write state topics and configuration to one archive")
    add_backup_arguments(backup)
    backup.set_defaults(func=main_backup)
    restore = sub.add_parser("restore", help="restore an archive into a cluster")
    add_restore_arguments(restore)
    restore.set_defaults(func=main_restore)
