"""Storage tiers for the data topics: hot is Kafka, cold is Parquet files by topic, date and
hour, archive is older days compacted into larger files at a higher compression.

The layout of the files (:mod:`.layout`), the Avro-to-Arrow mapping of the events
(:mod:`.columns`) and the filesystem they live on (:mod:`.store`) are shared by the archive
service that writes them and by ``watchkeeper replay``, ``watchkeeper query`` and dataset
cuts that read them.
"""

from __future__ import annotations

from .layout import Part, archive_path, bucket_of, cold_path, parse_path

__all__ = ["Part", "archive_path", "bucket_of", "cold_path", "parse_path"]
