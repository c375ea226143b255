"""ingest: ``POST /v1/events`` for producers that are not Python (curl, Go, Java, a
browser's backend): a JSON (or NDJSON) batch of predictions, feedback and telemetry,
checked against the Avro contract, produced to the prefixed topics and answered only once
the broker acknowledged them (acks=all, idempotent), with every rejected item named.

Runs its own loop (``engine="own"``, aiohttp). The domain side is Kafka-free and tested
alone: ``body`` (what the request carries), ``items`` (each event against the contract),
``scopes`` (who may write where), ``inflight`` (the backpressure bound), ``answer`` (the
response). ``sink`` is the Kafka producer and ``app`` wires them to HTTP.
"""
