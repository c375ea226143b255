"""drift wiring: predictions and feedback in (co-partitioned by model), references from
their compacted topic; alerts, drift reports, retrain requests out, on the batch engine."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from watchkeeper.codec import Codec
from watchkeeper.runtime import logs
from watchkeeper.runtime.batch import BatchService
from watchkeeper.settings import ConfigError, KafkaSettings, topic_prefix
from watchkeeper.yamlconf import ConfigFileError

from .config import DriftConfig
from .reference import build
from .references import TOPIC, ReferenceStore, key_of, publish, read_all, rows_from_file
from .task import DriftTask

INPUTS = {"predictions": "PredictionEvent", "feedback": "FeedbackEvent"}
STATE_TOPIC = "drift-state"
log = logging.getLogger("services.drift")


class DriftService(BatchService):
    """The batch engine, plus the reference store every task reads."""

    def __init__(self, config: DriftConfig) -> None:
        self.references = ReferenceStore(config.service.kafka, config.service.topic(TOPIC))
        codec = Codec()
        super().__init__(
            config.service,
            INPUTS,
            lambda partition: DriftTask(partition, config, self.references, codec),
            state_topic=STATE_TOPIC,
            codec=codec,
        )

    def apply_topics(self) -> None:
        super().apply_topics()
        # Tasks need every reference before their first event: read the topic to its end.
        self.references.start(timeout=60)
        log.info("references loaded", extra={"references": len(self.references)})


def serve() -> int:
    try:
        config = DriftConfig.from_env()
    except (ConfigFileError, ConfigError) as exc:
        print(f"drift: bad configuration: {exc}", file=sys.stderr)
        return 2
    return DriftService(config).run()


def reference_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.drift reference",
        description="Set the reference of a model version from its training data "
        "(CSV or Parquet), or list the references.",
    )
    parser.add_argument("--model")
    parser.add_argument("--version")
    parser.add_argument("--file", help="training data: .csv (with a header) or .parquet")
    parser.add_argument("--prediction-column", help="the model's output, for prediction drift")
    parser.add_argument("--label-column", help="the truth, for the reference performance")
    parser.add_argument("--positive-label", help="class for precision / recall / F1")
    parser.add_argument(
        "--categorical",
        default="",
        help="comma-separated columns to treat as categories even if numeric",
    )
    parser.add_argument(
        "--replace", action="store_true", help="replace an existing reference (logged)"
    )
    parser.add_argument("--list", action="store_true", help="list the references and exit")
    args = parser.parse_args(argv)
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
    if not (args.model and args.version and args.file):
        parser.error("--model, --version and --file are required (or --list)")
    current = existing.get((args.model, args.version, None))
    if current is not None and not args.replace:
        print(
            f"error: {args.model} {args.version} already has a reference ({current.source}); "
            "add --replace to replace it",
            file=sys.stderr,
        )
        return 1
    try:
        rows = rows_from_file(args.file)
        reference = build(
            args.model,
            args.version,
            rows,
            source=f"file: {args.file}",
            prediction_column=args.prediction_column,
            label_column=args.label_column,
            positive_label=args.positive_label,
            categorical=[c for c in args.categorical.split(",") if c],
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if reference.rows == 0:
        print(f"error: {args.file} has no rows", file=sys.stderr)
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


def main(argv: list[str]) -> int:
    if argv and argv[0] == "reference":
        return reference_command(argv[1:])
    return serve()
