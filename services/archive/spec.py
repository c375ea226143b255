"""archive, declared: the data topics into the cold and archive tiers (own loop)."""

from __future__ import annotations

from watchkeeper.kit import ServiceSpec, Setting

from .config import DEFAULT_TOPICS, NAME, ArchiveConfig, load_policy


def serve(config: ArchiveConfig) -> int:
    from .app import serve as serve_archive  # the Kafka side, imported only to run

    return serve_archive(config)


SPEC = ServiceSpec(
    name=NAME,
    summary="the data topics as zstd Parquet: cold by topic, date and hour, compacted by the "
    "day into the archive tier; retention per tier; exactly once to files",
    inputs=DEFAULT_TOPICS,
    outputs=("alerts", "dlq"),
    config=ArchiveConfig.from_env,
    engine="own",
    serve=serve,
    check_file=load_policy,
    config_file=Setting("WK_ARCHIVE_POLICY", "deploy/archive.yaml", "retention per tier"),
    settings=(
        Setting("WK_ARCHIVE_ROOT", "(required)", "the tiers' directory or filesystem URL"),
        Setting("WK_ARCHIVE_TOPICS", ",".join(DEFAULT_TOPICS), "the topics archived"),
        Setting("WK_ARCHIVE_FLUSH_RECORDS", "50000", "a partition holding this many: flush"),
        Setting("WK_ARCHIVE_FLUSH_S", "60", "a partition's oldest waited this long: flush"),
        Setting("WK_ARCHIVE_COLD_LEVEL", "3", "zstd level of cold parts"),
        Setting("WK_ARCHIVE_ARCHIVE_LEVEL", "19", "zstd level of archive parts"),
        Setting("WK_ARCHIVE_MAINTENANCE_S", "300", "how often compaction and retention run"),
        Setting("WK_ARCHIVE_ALERT_AFTER_S", "60", "writes failing this long: ArchiveWriteFailing"),
        Setting("WK_ARCHIVE_RETRY_MAX_S", "30", "longest wait between write retries"),
        Setting("WK_ARCHIVE_BATCH", "5000", "records per consume call"),
    ),
    doc="docs/services/archive.md",
    surface="Parquet files (cold/, archive/) under WK_ARCHIVE_ROOT",
)
