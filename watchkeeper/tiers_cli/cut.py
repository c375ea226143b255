"""``watchkeeper dataset cut``: the rows of one topic's tiers in a time range (and a
condition) as one Parquet file, registered in the registry with its content hash, row
count and lineage, in one command.

The file holds the event's fields and the Kafka coordinates, in (partition, offset) order,
zstd-compressed. Its lineage is one OpenLineage run of the job ``watchkeeper`` /
``archive.cut``: inputs the topic's tier datasets it read (``<root>/archive/topic=T`` and
``<root>/cold/topic=T``, named as OpenLineage names a file or object-store dataset), output
the registered dataset (``watchkeeper`` / NAME); the registry dataset's ``source`` is that
job, so ``GET /api/v1/lineage?nodeId=dataset:watchkeeper:NAME`` shows tier → cut → dataset.

>>> from watchkeeper.tiering.store import Store
>>> tier_dataset(Store.open("/data/tiers"), "archive", "predictions")
('file', '/data/tiers/archive/topic=predictions')
>>> tier_dataset(Store.open("memory://lake/tiers"), "cold", "feedback")
('memory://lake', 'tiers/cold/topic=feedback')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..clients.dataset_hash import file_digest
from ..tiering.layout import Part
from ..tiering.store import Store
from . import query
from .selection import BadInput

JOB = ("watchkeeper", "archive.cut")
JOB_NODE = f"job:{JOB[0]}:{JOB[1]}"
PRODUCER = "urn:watchkeeper:dataset-cut"


@dataclass(frozen=True)
class Cut:
    """A written cut: the file, its hash and rows, the parts and tiers it came from."""

    path: Path
    content_hash: str
    rows: int
    parts: list[Part]
    inputs: list[tuple[str, str]]


def tier_dataset(store: Store, tier: str, topic: str) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of one topic's tier under ``store``."""
    if store.fs.type_name == "local":
        return "file", f"{store.root}/{tier}/topic={topic}"
    scheme, _, rest = store.url.rstrip("/").partition("://")
    authority, _, path = rest.partition("/")
    name = f"{path}/{tier}/topic={topic}" if path else f"{tier}/topic={topic}"
    return f"{scheme}://{authority}", name


def write(
    store: Store,
    topic: str,
    parts: list[Part],
    since_ms: int,
    until_ms: int,
    where: str | None,
    out: Path,
) -> Cut:
    """Write the cut to ``out`` (whole or not at all) and hash it."""
    sql = query.view_sql(store, parts)
    if sql is None:
        raise BadInput(f"no readable part of {topic} between {since_ms} and {until_ms}")
    condition = f"_timestamp_ms >= {int(since_ms)} AND _timestamp_ms < {int(until_ms)}"
    if where:
        condition += f" AND ({where})"
    # The rows are a view first: a condition that closes its parenthesis to smuggle in a
    # statement of its own (COPY ... TO elsewhere) makes two statements, refused here.
    rows_view = f"CREATE TEMP VIEW cut_rows AS SELECT * FROM ({sql}) WHERE {condition}"
    connection = query.connect(store, views=False, locked=False)
    temporary = out.with_name(f".{out.name}.tmp")
    try:
        statements = connection.extract_statements(rows_view)
        if len(statements) != 1 or statements[0].type != query.duckdb.StatementType.CREATE:
            raise BadInput(f"--where {where!r}: one condition, not statements")
        connection.execute(rows_view)
        out.parent.mkdir(parents=True, exist_ok=True)
        connection.execute(
            "COPY (SELECT * EXCLUDE (topic, date, hour) FROM cut_rows "
            "ORDER BY _partition, _offset) "
            f"TO {query._literal(str(temporary))} (FORMAT parquet, COMPRESSION zstd)"
        )
    except query.duckdb.Error as exc:
        raise BadInput(str(exc)) from None
    finally:
        connection.close()
    rows = pq.read_metadata(temporary).num_rows
    temporary.replace(out)
    tiers = sorted({p.tier for p in parts})
    return Cut(out, file_digest(out), int(rows), parts,
               [tier_dataset(store, t, topic) for t in tiers])  # fmt: skip


def lineage_events(cut: Cut, name: str, version: str, event_time_ms: int) -> list[dict]:
    """The START and COMPLETE events of the cut's run (one run id per name and version, so
    a retried cut re-sends the same run)."""
    from services.registry.lineage.openlineage import run_event, run_uuid

    run_id = run_uuid(f"archive.cut:{name}:{version}")
    inputs = list(cut.inputs)
    outputs = [("watchkeeper", name)]
    return [
        run_event(JOB, inputs, outputs, run_id, kind, event_time_ms, producer=PRODUCER)
        for kind in ("START", "COMPLETE")
    ]


def register(
    client: Any, cut: Cut, topic: str, name: str, version: str, since_ms: int,
    until_ms: int, now_ms: int,
) -> dict:  # fmt: skip
    """Send the lineage, then register the dataset with its hash, rows and source."""
    for event in lineage_events(cut, name, version, now_ms):
        client.write("POST", "/api/v1/lineage", event,
                     idempotency_key=f"{event['run']['runId']}:{event['eventType']}")  # fmt: skip
    return client.register_dataset(
        name, version,
        idempotency_key=f"dataset-cut:{name}:{version}:{cut.content_hash}",
        uri=cut.path.resolve().as_uri(), content_hash=cut.content_hash, row_count=cut.rows,
        source=JOB_NODE, time_range={"start_ms": since_ms, "end_ms": until_ms},
        tags={"topic": topic, "parts": str(len(cut.parts)),
              "tiers": ",".join(sorted({p.tier for p in cut.parts}))},
    )  # fmt: skip
