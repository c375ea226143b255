"""Lineage node ids, Marquez style: ``<type>:<namespace>:<name>`` for datasets and jobs.

Only the prefix up to the first ``:`` is parsed: a namespace may itself hold colons
(``postgres://db:5432``), so an id is never split further than its type.

>>> dataset_id("s3://lake", "raw/clicks"), job_id("airflow", "etl.clicks")
('dataset:s3://lake:raw/clicks', 'job:airflow:etl.clicks')
>>> version_id("fraud", "3"), alias_id("fraud", "champion"), stream_id("fraud", "3")
('version:fraud:3', 'alias:fraud@champion', 'stream:fraud:3')
>>> node_type("alias:fraud@champion"), node_type("nonsense")
('ALIAS', None)
"""

from __future__ import annotations

# The namespace registry datasets live in (the contract: dataset:watchkeeper:<name>).
REGISTRY_NAMESPACE = "watchkeeper"

DATASET, JOB, MODEL, VERSION, ALIAS, STREAM = (
    "DATASET",
    "JOB",
    "MODEL",
    "VERSION",
    "ALIAS",
    "STREAM",
)
# Marquez writes node types in capitals (DATASET, JOB); ours follow.
TYPES = {
    "dataset": DATASET,
    "job": JOB,
    "model": MODEL,
    "version": VERSION,
    "alias": ALIAS,
    "stream": STREAM,
}


def dataset_id(namespace: str, name: str) -> str:
    return f"dataset:{namespace}:{name}"


def registry_dataset_id(name: str) -> str:
    """A registry dataset (all its versions are one node; the versions are an attribute)."""
    return dataset_id(REGISTRY_NAMESPACE, name)


def job_id(namespace: str, name: str) -> str:
    return f"job:{namespace}:{name}"


def model_id(model: str) -> str:
    return f"model:{model}"


def version_id(model: str, version: str) -> str:
    return f"version:{model}:{version}"


def alias_id(model: str, alias: str) -> str:
    return f"alias:{model}@{alias}"


def stream_id(model: str, version: str) -> str:
    return f"stream:{model}:{version}"


def node_type(node: str) -> str | None:
    """The node's type from its id's prefix, or None when the prefix is not one of ours."""
    prefix, sep, _ = node.partition(":")
    return TYPES.get(prefix) if sep else None


def source_dataset(source: str) -> tuple[str, str] | None:
    """The OpenLineage (namespace, name) of a registry dataset's ``source``, or None.

    A URI splits as OpenLineage's naming does (namespace ``scheme://authority``, name the
    path); a dataset node id splits at its last colon; ``name`` or ``name:version`` is
    another registry dataset. Other node ids (a job) are no dataset: None.

    >>> source_dataset("s3://lake/raw/clicks"), source_dataset("file:///data/x.parquet")
    (('s3://lake', 'raw/clicks'), ('file', '/data/x.parquet'))
    >>> source_dataset("dataset:postgres://db:5432:shop.orders"), source_dataset("clicks:4")
    (('postgres://db:5432', 'shop.orders'), ('watchkeeper', 'clicks'))
    >>> source_dataset("job:airflow:etl"), source_dataset("")
    (None, None)
    """
    if not source:
        return None
    scheme, sep, rest = source.partition("://")
    if sep and scheme and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        authority, _, path = rest.partition("/")
        if authority:
            return f"{scheme}://{authority}", path or authority
        return scheme, "/" + path
    if node_type(source) == DATASET:
        namespace, _, name = source.removeprefix("dataset:").rpartition(":")
        return (namespace, name) if namespace else None
    if node_type(source) is not None:
        return None
    return REGISTRY_NAMESPACE, source.partition(":")[0]


def source_node(source: str) -> str | None:
    """The node a registry dataset's ``source`` names (a node id as it is).

    >>> source_node("s3://lake/raw/clicks"), source_node("job:airflow:etl")
    ('dataset:s3://lake:raw/clicks', 'job:airflow:etl')
    """
    if node_type(source) is not None:
        return source
    found = source_dataset(source)
    return dataset_id(*found) if found else None
