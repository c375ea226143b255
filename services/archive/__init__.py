"""archive: the data topics into Parquet files, cold by the hour, then compacted into the
archive tier by the day, each tier with its retention (docs/services/archive.md)."""
