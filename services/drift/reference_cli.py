"""``python -m services.drift reference ...``: set the reference of a model version from
its training data (CSV or Parquet), or list the references on the topic.

Setting one is an explicit act and replacing one needs ``--replace``, logged with the old
and new source: every verdict after it is measured against it. This is a one-shot command
beside the service, not part of it: it reads the topic whole, writes one record, exits.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from watchkeeper.runtime import logs
from watchkeeper.settings import KafkaSettings, topic_prefix

from .profile import TOPIC, Reference, build, key_of
from .reference_store import read_all

PROG = "python -m services.drift reference"
log = logging.getLogger("services.drift")


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(
        prog=PROG,
        description="Set the reference of a model version from its training data "
        "(CSV or Parquet), or list the references.",
    )
    result.add_argument("--model")
    result.add_argument("--version")
    result.add_argument("--file", help="training data: .csv (with a header) or .parquet")
    result.add_argument("--prediction-column", help="the model's output, for prediction drift")
    result.add_argument("--label-column", help="the truth, for the reference performance")
    result.add_argument("--positive-label", help="class for precision / recall / F1")
    result.add_argument(
        "--categorical",
        default="",
        help="comma-separated columns to treat as categories even if numeric",
    )
    result.add_argument(
        "--replace", action="store_true", help="replace an existing reference (logged)"
    )
    result.add_argument("--list", action="store_true", help="list the references and exit")
    result.add_argument(
        "--from-registry",
        metavar="MODEL:VERSION",
        help="the version's registered training data (or MODEL@ALIAS), instead of --file",
    )
    result.add_argument("--registry", help="the registry's URL (WK_REGISTRY_URL)")
    result.add_argument("--token", help="a read token for it (WK_REGISTRY_TOKEN)")
    return result


def from_registry(args: argparse.Namespace) -> tuple[str, str, list[Path], str]:
    """(model, version, files, source) of ``--from-registry``."""
    from watchkeeper.clients import RegistryClient
    from watchkeeper.settings import env_str

    from .registry_source import training_files

    url = args.registry or env_str("WK_REGISTRY_URL") or "http://127.0.0.1:8108"
    token = args.token or env_str("WK_REGISTRY_TOKEN")
    with RegistryClient(url, token) as client:
        model, version, files = training_files(client, args.from_registry)
    used = ", ".join(f"{f.dataset} ({f.uri})" for f in files)
    return model, version, [f.path for f in files], f"registry: {model}:{version} trained on {used}"


def main(argv: list[str]) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    logs.configure("drift", "INFO")
    settings = KafkaSettings.from_env()
    topic = topic_prefix() + TOPIC
    existing = read_all(settings, topic)
    if args.list:
        for (model, version, segment), ref in sorted(existing.items(), key=str):
            print(
                json.dumps(
                    {
                        "model": model,
                        "version": version,
                        "segment": segment,
                        "source": ref.source,
                        "rows": ref.rows,
                        "numeric": sorted(ref.numeric),
                        "categorical": sorted(ref.categorical),
                    }
                )
            )
        return 0
    files: list[Path] = []
    if args.from_registry:
        if args.file or args.model or args.version:
            arguments.error("--from-registry names the model, version and data: drop the others")
        try:
            args.model, args.version, files, source = from_registry(args)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    elif not (args.model and args.version and args.file):
        arguments.error("--model, --version and --file are required (or --from-registry, --list)")
    else:
        files, source = [Path(args.file)], f"file: {args.file}"
    current = existing.get((args.model, args.version, None))
    if current is not None and not args.replace:
        print(
            f"error: {args.model} {args.version} already has a reference ({current.source}); "
            "add --replace to replace it",
            file=sys.stderr,
        )
        return 1
    try:
        rows = (row for path in files for row in rows_from_file(path))
        reference = build(
            args.model,
            args.version,
            rows,
            source=source,
            prediction_column=args.prediction_column,
            label_column=args.label_column,
            positive_label=args.positive_label,
            categorical=[c for c in args.categorical.split(",") if c],
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if reference.rows == 0:
        print(f"error: {', '.join(map(str, files))} has no rows", file=sys.stderr)
        return 1
    publish(settings, topic, reference)
    log.warning(
        "reference replaced" if current is not None else "reference set",
        extra={
            "model": args.model,
            "version": args.version,
            "source": reference.source,
            "previous": current.source if current else None,
            "rows": reference.rows,
            "key": key_of(args.model, args.version).decode(errors="replace"),
        },
    )
    print(
        f"{'replaced' if current else 'set'} reference of {args.model} {args.version}: "
        f"{reference.rows} rows, {len(reference.numeric)} numeric, "
        f"{len(reference.categorical)} categorical features"
        + (", prediction" if reference.prediction else "")
        + (f", {reference.performance.task} performance" if reference.performance else "")
    )
    return 0


def publish(settings: KafkaSettings, topic: str, reference: Reference) -> None:
    """Write ``reference`` to its compacted topic (idempotent, acknowledged by all)."""
    from confluent_kafka import Producer  # here: importing this module loads no client

    producer = Producer(settings.confluent(**{"enable.idempotence": True, "acks": "all"}))
    producer.produce(topic, reference.to_json(), key_of(reference.model, reference.version))
    if producer.flush(30) != 0:
        raise RuntimeError(f"the reference could not be written to {topic}")


# -- reading training data ------------------------------------------------------------


def _cell(text: str) -> Any:
    """CSV cells are text: numbers become numbers, empty cells are missing."""
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def rows_from_file(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a CSV (header line first) or a Parquet file, as dicts."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                yield {k: _cell(v) for k, v in row.items()}
    elif suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        for batch in table.to_batches(max_chunksize=10_000):
            yield from batch.to_pylist()
    else:
        raise ValueError(f"{path}: reference data must be .csv or .parquet, not {suffix!r}")
