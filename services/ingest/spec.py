"""ingest, declared: ``POST /v1/events`` (JSON or NDJSON batches) into predictions,
feedback and telemetry (own loop: aiohttp and an idempotent producer)."""

from __future__ import annotations

from watchkeeper.kit import ServiceSpec, Setting

from .config import NAME, IngestConfig


def serve(config: IngestConfig) -> int:
    from .app import serve as serve_ingest  # the Kafka side, imported only to run

    return serve_ingest(config)


SPEC = ServiceSpec(
    name=NAME,
    summary="POST /v1/events for producers that are not Python: JSON or NDJSON batches "
    "checked against the Avro contract, answered once the broker acknowledged them, with "
    "per-item errors, per-topic token scopes and 429 backpressure",
    inputs=(),
    outputs=("predictions", "feedback", "telemetry"),
    config=IngestConfig.from_env,
    engine="own",
    serve=serve,
    settings=(
        Setting(
            "WK_INGEST_API_TOKENS[_FILE]",
            "none: every request is refused",
            "'<name> <ingest|ingest:predictions|ingest:feedback|ingest:telemetry> <token>; ...'",
        ),
        Setting("WK_INGEST_MAX_BODY_BYTES", "1048576", "larger bodies (also after gzip): 413"),
        Setting("WK_INGEST_MAX_EVENTS", "5000", "more events in one request: 413"),
        Setting("WK_INGEST_MAX_INFLIGHT_EVENTS", "50000", "events waiting for the broker: 429"),
        Setting("WK_INGEST_MAX_INFLIGHT_BYTES", "67108864", "bytes waiting for the broker: 429"),
        Setting("WK_INGEST_DEADLINE_S", "10", "every request is answered within this"),
        Setting("WK_INGEST_RETRY_AFTER_S", "1", "the Retry-After of 429 and 503"),
        Setting("WK_INGEST_PROBE_S", "2", "how often Kafka is asked for /healthz"),
    ),
    doc="docs/services/ingest.md",
    surface="HTTP POST /v1/events (scoped bearer tokens)",
)
