"""``watchkeeper`` command line: the local broker, topics and schemas.

watchkeeper serve SERVICE [--help | --version | --check-config FILE]
watchkeeper kafka up|down|status|jars [--brokers 3 | --cluster b]
watchkeeper mirror up|down|status [--source B1 --target B2 --prefix wk.]
watchkeeper topics apply|list
watchkeeper schemas check|lock|list
watchkeeper registry models|versions|validate|alias|datasets|history|import-mlflow|export-mlflow
watchkeeper lineage graph|upstream|downstream|impact NODE
watchkeeper rollout start|get|list|verdict|pause|resume|abort|rollback|switch|routing ...
watchkeeper retrain trigger|runs|show|approve|reject|cancel ...
watchkeeper gate validate|staging|rollout|watch ...
watchkeeper review list|answer REVIEW_ID --label L
watchkeeper failover status|promote CLUSTER
watchkeeper backup OUT.wkb | backup inspect IN.wkb | restore IN.wkb [--at T] [--force]
watchkeeper drill [failover|restore] [--json PATH] [--rto-target S] [--rpo-target S]
watchkeeper ingest PATH --into predictions|feedback|telemetry --mapping MAP.yaml [...]
watchkeeper replay --root URL --topic T --since T0 [--until T1] [--from cold|archive|all] ...
watchkeeper query "SQL" [--root URL] [--format table|csv|json]
watchkeeper dataset cut --root URL --topic T --since T0 --until T1 --out F --name N --version V
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import kafka_cli


def _topics_apply(args: argparse.Namespace) -> int:
    from . import topic_admin

    for change in topic_admin.apply(prefix=args.prefix):
        print(change)
    return 0


def _topics_list(args: argparse.Namespace) -> int:
    from . import topics

    for spec in topics.TOPICS:
        kind = "compacted" if spec.compacted else f"retention {spec.retention_ms} ms"
        print(
            f"{topics.full_name(spec.name, args.prefix):<28} {spec.partitions:>3} partitions  "
            f"{kind:<26} {spec.schema or _unschematized(spec)}"
        )
    return 0


def _unschematized(spec) -> str:
    return "(state log)" if spec.compacted else "(raw bytes + headers)"


def _schemas_check(args: argparse.Namespace) -> int:
    from .codec import compatibility

    problems = compatibility.check()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print("schemas: every version reads the ones before it; fingerprints.lock matches")
    return 1 if problems else 0


def _schemas_lock(args: argparse.Namespace) -> int:
    from .codec import compatibility

    problems = compatibility.check(require_lock=False)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print("not locked: fix the problems above first", file=sys.stderr)
        return 1
    print(f"wrote {compatibility.lock()}")
    return 0


def _schemas_list(args: argparse.Namespace) -> int:
    from .codec import SchemaRegistry

    for version in SchemaRegistry():
        print(f"{version.fingerprint.hex()}  {version.label:<24} {version.path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watchkeeper",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run a service (watchkeeper serve SERVICE --help)", add_help=False)

    kafka = sub.add_parser("kafka", help="the local broker (or a local three-broker cluster)")
    kafka_sub = kafka.add_subparsers(dest="action", required=True)
    for name, func in (
        ("up", kafka_cli.main_up),
        ("down", kafka_cli.main_down),
        ("status", kafka_cli.main_status),
        ("jars", kafka_cli.main_jars),
    ):
        action = kafka_sub.add_parser(name)
        action.add_argument(
            "--brokers",
            type=int,
            choices=(1, 3),
            default=1,
            help="1: the single broker (default); 3: a replicated cluster (RF 3, min ISR 2)",
        )
        action.add_argument(
            "--cluster",
            choices=("a", "b"),
            default="a",
            help="a: the local broker (default); b: a second one, replication's target",
        )
        action.set_defaults(func=lambda args, f=func: f(args.brokers, args.cluster))

    topics = sub.add_parser("topics", help="the declared topics")
    topics.add_argument("--prefix", default=None, help="topic prefix (default WK_TOPIC_PREFIX)")
    topics_sub = topics.add_subparsers(dest="action", required=True)
    topics_sub.add_parser("apply", help="create or update them (idempotent)").set_defaults(
        func=_topics_apply
    )
    topics_sub.add_parser("list").set_defaults(func=_topics_list)

    schemas = sub.add_parser("schemas", help="the event contracts")
    schemas_sub = schemas.add_subparsers(dest="action", required=True)
    schemas_sub.add_parser("check", help="fail if a change would break old data").set_defaults(
        func=_schemas_check
    )
    schemas_sub.add_parser("lock", help="record new versions in fingerprints.lock").set_defaults(
        func=_schemas_lock
    )
    schemas_sub.add_parser("list").set_defaults(func=_schemas_list)

    from .clients import registry_cli

    registry_cli.add_registry(sub)
    registry_cli.add_lineage(sub)
    for name in ("registry", "lineage"):
        sub.choices[name].set_defaults(func=registry_cli.run)

    from .clients import retrain_cli, rollout_cli

    rollout_cli.add_rollout(sub)
    retrain_cli.add_retrain(sub)

    from .gates import cli as gate_cli

    gate_cli.add_gate(sub)

    from .continuity import review_cli

    review_cli.add_arguments(sub.add_parser("review", help="human review of guarded calls"))

    from . import failover_cli

    failover_cli.add_arguments(sub)  # watchkeeper failover status|promote CLUSTER

    from .backup import cli as backup_cli

    backup_cli.add_commands(sub)

    from .mirror import cli as mirror_cli

    mirror = sub.add_parser("mirror", help="MirrorMaker 2 from cluster a to cluster b")
    mirror_cli.add_arguments(mirror)
    mirror.set_defaults(func=mirror_cli.main)

    from . import drill_cli

    drill = sub.add_parser("drill", help="disaster-recovery drills: measure RTO and RPO")
    drill_cli.add_arguments(drill)
    drill.set_defaults(func=drill_cli.main)

    from .ingest import cli as ingest_cli

    ingest_cli.add_arguments(
        sub.add_parser("ingest", help="batch ingest of a CSV, JSONL or Parquet file, exactly once")
    )

    from .tiers_cli import commands as tiers_commands

    tiers_commands.add_commands(sub)  # replay, query, dataset cut
    return parser


def _serve(argv: list[str]) -> int:
    import services

    if not argv or argv[0].startswith("-"):
        print(
            f"usage: watchkeeper serve SERVICE [--help]\nservices: {', '.join(services.NAMES)}",
            file=sys.stderr if not argv or argv[0] not in ("-h", "--help") else sys.stdout,
        )
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        spec = services.spec(argv[0])
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    from .runtime.entry import main as serve

    return serve(spec, argv[1:], prog=f"watchkeeper serve {argv[0]}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "serve":
        # Everything after the name is the service's own command line (--help included).
        return _serve(argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
