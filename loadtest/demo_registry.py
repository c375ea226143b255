"""The demo's registry: its models registered with their training data and lineage, and
the impact of the raw source they come from, live streams included."""

from __future__ import annotations

import time

from watchkeeper.clients import RegistryClient

TOKEN = "demo-admin-token-0123456789"
TOKENS = f"demo admin {TOKEN}"
SOURCE = "s3://demo/raw/transactions"
SOURCE_NODE = "dataset:s3://demo:raw/transactions"


def register(url: str) -> None:
    """fraud 3.2.0 (champion) and recommender 11, trained on data derived from SOURCE."""
    with RegistryClient(url, TOKEN) as rc:
        rc.register_dataset("transactions", "2026-11", source=SOURCE, row_count=1_200_000,
                            idempotency_key="demo-ds-tx")  # fmt: skip
        rc.register_dataset("clicks", "2026-11", source="dataset:watchkeeper:transactions",
                            row_count=8_000_000, idempotency_key="demo-ds-clicks")  # fmt: skip
        for model, version, dataset, auc in (
            ("fraud", "3.2.0", "transactions", 0.91),
            ("recommender", "11", "clicks", 0.74),
        ):
            rc.create_model(model, owner_team="demo", idempotency_key=f"demo-model-{model}")
            rc.register_version(
                model, version, artifact_uri=f"s3://demo/models/{model}/{version}",
                training_datasets=[{"name": dataset, "version": "2026-11"}],
                metrics={"auc": auc}, idempotency_key=f"demo-version-{model}",
            )  # fmt: skip
            rc.record_validation(model, version, passed=True, metrics={"auc": auc},
                                 idempotency_key=f"demo-validation-{model}")  # fmt: skip
            rc.set_alias(model, "champion", version, reason="demo",
                         idempotency_key=f"demo-alias-{model}")  # fmt: skip


def impact_lines(url: str) -> list[str]:
    with RegistryClient(url, TOKEN) as rc:
        impact = rc.get("/api/v1/lineage/impact", nodeId=SOURCE_NODE)
    lines = [f"  impact of {SOURCE} changing:"]
    lines.append(f"    datasets  {', '.join(impact['datasets']) or '-'}")
    lines.append(f"    versions  {', '.join(impact['versions']) or '-'}")
    lines.append(f"    aliases   {', '.join(impact['aliases']) or '-'}")
    now_ms = time.time() * 1000
    for stream in impact["streams"]:
        ago = (now_ms - stream["last_seen_ms"]) / 1000 if stream["last_seen_ms"] else None
        seen = f"last seen {ago:.1f} s ago" if ago is not None else "not seen"
        lines.append(f"    live      {stream['id']} at {stream['rate_per_s']:.0f}/s ({seen})")
    if not impact["streams"]:
        lines.append("    live      - (no prediction stream seen)")
    return lines
