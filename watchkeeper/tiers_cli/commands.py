"""The command line of the tiers' readers: ``replay``, ``query`` and ``dataset cut``.

A refused request (bad arguments, an unknown topic, a corrupt part, a SQL error) prints
``error: <reason>`` and exits 2 before anything is sent or written; a Kafka or registry
failure exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .selection import TIERS, BadInput

ROOT_ENV = "WK_TIERS_ROOT"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=os.environ.get(ROOT_ENV),
                        help=f"the tiers' root: a path or URL (default ${ROOT_ENV})")  # fmt: skip


def add_commands(sub: argparse._SubParsersAction) -> None:
    replay = sub.add_parser("replay", help="cold/archive parts back into a topic, exactly once")
    _root(replay)
    replay.add_argument("--from", dest="tier", choices=TIERS, default="all")
    replay.add_argument("--topic", required=True, help="logical topic: predictions, ...")
    replay.add_argument("--since", required=True, help="ISO 8601, ms, now, or -2h / -7d")
    replay.add_argument("--until", default="now")
    replay.add_argument("--into", default=None, help="target topic (default: the live one)")
    replay.add_argument("--where", default=None, help="a SQL condition on the event's fields")
    replay.add_argument("--dry-run", action="store_true", help="count, send nothing")
    replay.add_argument("--again", action="store_true", help="re-send a finished replay")
    replay.add_argument("--batch", type=int, default=5_000, help="records per transaction")
    replay.add_argument("--prefix", default=None, help="topic prefix (default WK_TOPIC_PREFIX)")
    replay.set_defaults(func=lambda a: _guarded(_replay, a))

    query = sub.add_parser("query", help="SQL (DuckDB) over the cold and archive tiers")
    query.add_argument("sql")
    _root(query)
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.set_defaults(func=lambda a: _guarded(_query, a))

    dataset = sub.add_parser("dataset", help="datasets cut from the tiers")
    verbs = dataset.add_subparsers(dest="verb", required=True)
    cut = verbs.add_parser("cut", help="a range of a topic into one registered Parquet file")
    _root(cut)
    cut.add_argument("--topic", required=True)
    cut.add_argument("--since", required=True)
    cut.add_argument("--until", default="now")
    cut.add_argument("--where", default=None)
    cut.add_argument("--out", required=True, type=Path)
    cut.add_argument("--name", required=True)
    cut.add_argument("--version", required=True)
    from ..clients._cli import service_options

    service_options(cut, "registry", "http://127.0.0.1:8108")
    cut.set_defaults(func=lambda a: _guarded(_cut, a))


def _guarded(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return command(args)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _store(args: argparse.Namespace):
    from ..tiering.store import Store

    if not args.root:
        raise BadInput(f"--root (or ${ROOT_ENV}) is required")
    return Store.open(args.root)


def _range(args: argparse.Namespace) -> tuple[int, int]:
    from .selection import check_range
    from .times import parse_time

    now = _now_ms()
    try:
        since, until = parse_time(args.since, now), parse_time(args.until, now)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    check_range(since, until)
    return since, until


def _chosen(args: argparse.Namespace, tier: str):
    """The checked parts of the request: store, topic spec, range, parts."""
    from . import selection

    spec = selection.data_topic(args.topic)
    since, until = _range(args)
    store = _store(args)
    if getattr(args, "where", None):
        from ..codec import Codec
        from ..tiering.columns import Columns

        selection.check_where(Columns.of(Codec(), spec.schema), args.where)
    parts = selection.select(store, spec.name, tier, since, until)
    selection.check_parts(store, parts, spec.schema)
    return store, spec, since, until, parts


# -- replay ------------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    from ..settings import KafkaSettings
    from ..topics import full_name
    from .checkpoint import ReplayId
    from .times import iso

    if args.batch < 1:
        raise BadInput("--batch must be at least 1")
    store, spec, since, until, parts = _chosen(args, args.tier)
    live = full_name(spec.name, args.prefix)
    target = args.into or live
    rid = ReplayId(store.url, spec.name, args.tier, since, until, target, args.where)
    print(f"replay {rid.key()}: {spec.name} [{iso(since)}, {iso(until)}) from {args.tier} "
          f"({len(parts)} parts) into {target}; the same replay again (to resume it): "
          f"--since={since} --until={until}", file=sys.stderr)  # fmt: skip
    if target == live:
        print(f"note: {target} is the live topic: its consumers see these events again "
              "(they count, alert and aggregate them as new unless they dedup by event_id)",
              file=sys.stderr)  # fmt: skip
    _retention_warning(spec, target, live, since)
    if args.dry_run:
        return _dry_run(store, spec, parts, since, until, args.where)
    from confluent_kafka import KafkaException
    from tqdm import tqdm

    from ..runtime.checkpointed import Aborted, Undelivered
    from .replay import STATE_TOPIC, Replayer, Request

    request = Request(rid, store, parts, spec.schema, full_name(STATE_TOPIC, args.prefix),
                      batch=args.batch, again=args.again)  # fmt: skip
    with tqdm(unit="ev", desc="replay", file=sys.stderr, disable=None) as bar:
        try:
            summary = Replayer(KafkaSettings.from_env(), request).run(progress=bar.update)
        except (KafkaException, Aborted, Undelivered, TimeoutError) as exc:
            print(f"error: Kafka: {exc} (the checkpoints live on {request.state_topic}: "
                  "`watchkeeper topics apply` creates it)", file=sys.stderr)  # fmt: skip
            return 1
    if summary.already_done:
        print(f"replay {summary.key} already finished (run {summary.run}, "
              f"{summary.sent} events): nothing sent; --again sends it once more")  # fmt: skip
        return 0
    print(json.dumps({
        "replay": summary.key, "run": summary.run, "target": summary.target,
        "events": summary.sent, "this_run": sum(summary.per_partition.values()),
        "per_partition": {str(p): n for p, n in sorted(summary.per_partition.items())},
        "resumed_after": {str(p): o for p, o in sorted(summary.resumed_from.items())},
        "seconds": round(summary.seconds, 3), "events_per_s": round(summary.rate, 1),
    }, sort_keys=True))  # fmt: skip
    return 0


def _retention_warning(spec, target: str, live: str, since: int) -> None:
    if target != live or spec.retention_ms in (None, -1):
        return
    if since < _now_ms() - spec.retention_ms:
        print(f"warning: events older than {target}'s retention ({spec.retention_ms} ms) keep "
              "their timestamps: the broker deletes them at its next retention check; "
              "replay them --into a topic that keeps them", file=sys.stderr)  # fmt: skip


def _dry_run(store, spec, parts, since: int, until: int, where: str | None) -> int:
    from ..codec import Codec
    from ..tiering.columns import Columns
    from .selection import partition_tables

    columns = Columns.of(Codec(), spec.schema)
    counts = {p: t.num_rows for p, t in partition_tables(store, parts, columns, since, until,
                                                         where)}  # fmt: skip
    print(json.dumps({"dry_run": True, "events": sum(counts.values()),
                      "per_partition": {str(p): n for p, n in sorted(counts.items())},
                      "parts": [p.path for p in parts]}, sort_keys=True))  # fmt: skip
    return 0


# -- query -------------------------------------------------------------------------------


def _query(args: argparse.Namespace) -> int:
    from . import query

    store = _store(args)
    table = query.run(store, args.sql)
    sys.stdout.write(query.render(table, args.format))
    return 0


# -- dataset cut -------------------------------------------------------------------------


def _cut(args: argparse.Namespace) -> int:
    from ..clients.registry import RegistryClient
    from ..control.client import ApiError
    from . import cut

    store, spec, since, until, parts = _chosen(args, "all")
    if not parts:
        raise BadInput(f"{store.url}: no readable part of {spec.name} in that range")
    written = cut.write(store, spec.name, parts, since, until, args.where, args.out)
    print(f"wrote {written.path}: {written.rows} rows from {len(parts)} parts, "
          f"{written.content_hash}", file=sys.stderr)  # fmt: skip
    with RegistryClient(args.registry, args.token or None) as client:
        try:
            answer = cut.register(client, written, spec.name, args.name, args.version,
                                  since, until, _now_ms())  # fmt: skip
        except ApiError as exc:
            print(f"error: registry: {exc.status} {exc.reason}", file=sys.stderr)
            return 1
    print(json.dumps(answer, indent=2, sort_keys=True))
    return 0
