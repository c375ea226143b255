"""``watchkeeper ingest PATH --into predictions|feedback|telemetry --mapping MAP.yaml ...``

Exit codes: 0 done (or already ingested), 2 the input is refused (``file:line: reason``,
nothing sent), 3 the gate is blocked (the last checkpoint committed: a re-run resumes),
1 Kafka or the registry failed (a re-run resumes from the last checkpoint).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..yamlconf import ConfigFileError
from .errors import InputError

USAGE_EXIT, GATE_EXIT, TROUBLE_EXIT = 2, 3, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..clients._cli import service_options

    parser.add_argument("path", help="a CSV, JSONL or Parquet file")
    parser.add_argument("--into", required=True, choices=("predictions", "feedback", "telemetry"))
    parser.add_argument("--mapping", required=True, help="columns -> event fields (YAML)")
    parser.add_argument("--transform", help="transformation steps (YAML), applied before mapping")
    parser.add_argument("--gate", help="a quality gate that must be open (the gates topic)")
    parser.add_argument("--wait", action="store_true", help="with --gate: wait while it is blocked")
    parser.add_argument(
        "--unknown-gate",
        choices=("fail", "pass"),
        default="fail",
        help="a gate with no state yet: blocks (fail, the default) or passes",
    )
    parser.add_argument("--poll-s", type=float, default=5.0, help="--wait asks this often")
    parser.add_argument("--contract", help="a quality contract (quality.yaml): rows must pass it")
    parser.add_argument(
        "--register",
        metavar="NAME:VERSION",
        help="register the ingested data as a dataset in the registry",
    )
    service_options(parser, "registry", "http://127.0.0.1:8108")
    parser.add_argument(
        "--again",
        action="store_true",
        help="ingest a file that is already done once more (same event ids)",
    )
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=5000,
        help="rows per transaction (each commits a checkpoint)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--prefix", default=None, help="topic prefix (default WK_TOPIC_PREFIX)")
    parser.set_defaults(func=main)


def _refuse(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return USAGE_EXIT


def main(args: argparse.Namespace) -> int:
    from ..settings import KafkaSettings, topic_prefix

    register = None
    if args.register:
        name, _, version = args.register.partition(":")
        if not name or not version:
            return _refuse(f"--register {args.register!r}: give NAME:VERSION")
        register = (name, version)
    if args.batch_rows < 1:
        return _refuse("--batch-rows must be at least 1")
    if args.wait and not args.gate:
        return _refuse("--wait needs --gate NAME")
    try:
        plan = _plan(args)
    except (ConfigFileError, InputError) as exc:
        return _refuse(str(exc))
    settings = KafkaSettings.from_env()
    prefix = topic_prefix() if args.prefix is None else args.prefix
    return run(settings, prefix, plan, args, register)


def _plan(args: argparse.Namespace) -> Any:
    from . import contract, mapping, transform
    from .pipeline import plan

    if not Path(args.path).is_file():
        raise InputError(args.path, None, "no such file")
    event_mapping = mapping.load(args.mapping, args.into)
    steps = transform.load(args.transform, Path(args.path).stem) if args.transform else None
    rows = contract.load(args.contract, args.into) if args.contract else None
    return plan(args.path, event_mapping, steps, rows)


def run(
    settings: Any,
    prefix: str,
    plan: Any,
    args: argparse.Namespace,
    register: tuple[str, str] | None,
) -> int:
    from confluent_kafka import KafkaException

    from ..gates import qualitygate
    from ..topics import full_name
    from .gate import Gate
    from .pipeline import GateBlocked, Ingest, KafkaTrouble, Options

    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    gate = None
    if args.gate:
        gates_topic = full_name("gates", prefix)
        gate = Gate(
            args.gate,
            lambda: qualitygate.latest_states(settings, gates_topic).get(args.gate),
            wait=args.wait,
            unknown_passes=args.unknown_gate == "pass",
            poll_s=args.poll_s,
            say=say,
        )
    options = Options(
        batch_rows=args.batch_rows, again=args.again, progress=not args.no_progress, gate=gate
    )
    ingest = Ingest(settings, prefix, plan, options)
    try:
        summary = ingest.run()
    except InputError as exc:
        say(f"error: {exc} (the rows before it are committed)")
        return USAGE_EXIT
    except GateBlocked as exc:
        say(f"stopped: {exc} (committed up to the last checkpoint; run again to resume)")
        return GATE_EXIT
    except (KafkaTrouble, KafkaException) as exc:
        say(f"error: Kafka: {exc} (run again to resume from the last checkpoint)")
        return TROUBLE_EXIT
    finally:
        ingest.close()
    if summary.note == "already ingested":
        say(
            f"already ingested {summary.file} into {summary.topic} (attempt {summary.attempt}, "
            f"{summary.sent} events); --again to send it once more"
        )
    print(json.dumps(summary.as_dict(), sort_keys=True) if args.json else summary.text())
    if register is not None:
        return _register(settings, summary, args, register, say)
    return 0


def _register(
    settings: Any, summary: Any, args: argparse.Namespace, register: tuple[str, str], say: Any
) -> int:
    import httpx

    from ..clients.registry import RegistryClient
    from ..control.client import ApiError

    name, version = register
    broker = settings.bootstrap_servers.split(",")[0]
    body = {
        "uri": f"kafka://{broker}/{summary.topic}",
        "content_hash": summary.digest,
        "row_count": summary.sent,
        "source": f"dataset:kafka://{broker}:{summary.topic}",
        # The records this ingest wrote carry produce timestamps in this range.
        "time_range": {"start_ms": summary.started_ms, "end_ms": (summary.finished_ms or 0) + 1},
    }
    try:
        with RegistryClient(args.registry, args.token or None) as client:
            client.register_dataset(
                name,
                version,
                idempotency_key=f"ingest:{summary.digest}:{summary.topic}:{name}:{version}",
                **body,
            )
    except ApiError as exc:
        say(f"error: registry: {exc.status} {exc.reason}")
        return TROUBLE_EXIT
    except (httpx.HTTPError, OSError) as exc:
        say(f"error: registry at {args.registry}: {exc}")
        return TROUBLE_EXIT
    say(f"registered dataset {name} version {version} ({summary.digest})")
    return 0
