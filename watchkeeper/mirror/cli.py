"""``watchkeeper mirror up|down|status [--source B1 --target B2 --prefix wk.]``.

Defaults: the local cluster a (``LocalKafka.from_env()``, 9092) to the local cluster b
(``watchkeeper kafka up --cluster b``, 9392), prefix ``WK_TOPIC_PREFIX``; files in
``WK_MIRROR_HOME`` (``.cache/kafka/mirror``).
"""

from __future__ import annotations

import argparse
import sys

from ..local_kafka import LocalKafkaError
from ..settings import topic_prefix
from .process import Mirror


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--source", help="cluster a's bootstrap (default: the local one)")
    parser.add_argument("--target", help="cluster b's bootstrap (default: local cluster b)")
    parser.add_argument("--prefix", help="replicate this prefix's topics (WK_TOPIC_PREFIX)")
    parser.add_argument("--timeout", type=float, default=180.0, help="for up, in seconds")


def mirror_from(args: argparse.Namespace) -> Mirror:
    mirror = Mirror.local(topic_prefix() if args.prefix is None else args.prefix)
    mirror.source = args.source or mirror.source
    mirror.target = args.target or mirror.target
    return mirror


def main(args: argparse.Namespace) -> int:
    try:
        mirror = mirror_from(args)
        if args.action == "up":
            was = mirror.running_pid()
            pid = mirror.up(timeout=args.timeout)
            state = "already running" if was else "started"
            print(f"MirrorMaker 2 {state}, pid {pid}: {mirror.source} -> {mirror.target}, "
                  f"topics {mirror.prefix}* (log {mirror.log_file})")  # fmt: skip
            return 0
        if args.action == "down":
            print("MirrorMaker 2 stopped" if mirror.down() else "MirrorMaker 2 was not running")
            return 0
        pid = mirror.running_pid()
        if pid is None:
            print("MirrorMaker 2: not running")
            return 1
        print(f"MirrorMaker 2: running, pid {pid}, config {mirror.config_file}")
        return 0
    except (LocalKafkaError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
