"""The new-data trigger (Kafka-free): a version of the model's training dataset with at
least ``min_new_rows`` rows more than the version the champion was trained on.

>>> from services.retrain.policy import NewData
>>> datasets = [{"name": "tx", "version": "2026-10", "row_count": 1000, "uri": "s3://a"},
...             {"name": "tx", "version": "2026-11", "row_count": 16000, "uri": "s3://b"}]
>>> trigger = new_data_trigger("fraud", NewData("tx", 10_000), datasets, {"tx": "2026-10"})
>>> trigger["dedup_key"], trigger["reason"]
('new_data:tx:2026-11', 'dataset tx 2026-11: 16000 rows, 15000 more than 2026-10')
>>> new_data_trigger("fraud", NewData("tx", 20_000), datasets, {"tx": "2026-10"}) is None
True
"""

from __future__ import annotations

from typing import Any

from .policy import NewData


def new_data_trigger(
    model: str, spec: NewData, datasets: list[dict[str, Any]], trained_on: dict[str, str]
) -> dict[str, Any] | None:
    """The trigger's body, or None. ``datasets``: the registry's versions of the dataset
    (oldest first); ``trained_on``: dataset name -> version, of the champion."""
    versions = [d for d in datasets if d["name"] == spec.dataset and not d.get("deleted")]
    if not versions:
        return None
    base_version = trained_on.get(spec.dataset)
    base = next((d for d in versions if d["version"] == base_version), None)
    base_rows = (base or {}).get("row_count") or 0
    newest = versions[-1]
    if newest is base or newest.get("row_count") is None:
        return None
    more = newest["row_count"] - base_rows
    if more < spec.min_new_rows:
        return None
    ref = {k: newest[k] for k in ("name", "version", "uri") if k in newest}
    return {
        "model": model,
        "kind": "new_data",
        "dedup_key": f"new_data:{spec.dataset}:{newest['version']}",
        "reason": f"dataset {spec.dataset} {newest['version']}: {newest['row_count']} rows, "
        f"{more} more than {base_version or 'none'}",
        "evidence": {"datasets": [ref], "new_rows": str(more)},
    }
