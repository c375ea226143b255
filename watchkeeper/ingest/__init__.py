"""Batch ingest: ``watchkeeper ingest PATH --into predictions|feedback|telemetry``.

A CSV, JSONL or Parquet file becomes events on a data topic, exactly once: read
(``readers``), transformed (``transform``, ``expressions``), mapped onto the event schema
(``mapping``), checked (``contract``), sent in transactions with a checkpoint
(``checkpoint``, ``pipeline``), its bad rows dead-lettered (``deadletters``) and its steps
reported as OpenLineage jobs (``lineage``). docs/ingest.md is the reference.
"""
