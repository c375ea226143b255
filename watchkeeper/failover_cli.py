"""``watchkeeper failover status|promote CLUSTER``: where the services run, and moving them.

``status`` probes every cluster of ``WK_KAFKA_CLUSTERS``, prints its newest marker and the
cluster a starting service would join; ``promote CLUSTER`` (an index or a bootstrap of the
list) writes a marker naming it, on it: services restarted from then on join it (failing
back is an operator's act, after replicating back). Exit 0; 1 when the marker could not be
written or read; 2 for a bad setting or an unknown cluster, with the reason.
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
import time

from .clusters import Clusters, Marker, choose
from .settings import ConfigError, KafkaSettings, topic_prefix


def add_arguments(sub: argparse._SubParsersAction) -> None:
    failover = sub.add_parser("failover", help="which cluster the services run on (markers)")
    failover.add_argument("--prefix", default=None, help="topic prefix (default WK_TOPIC_PREFIX)")
    actions = failover.add_subparsers(dest="failover_action", required=True)
    actions.add_parser("status", help="probe each cluster, show its newest marker")
    promote = actions.add_parser("promote", help="write a marker naming CLUSTER, on it")
    promote.add_argument(
        "cluster", help="its index in WK_KAFKA_CLUSTERS (0 = primary) or bootstrap"
    )
    failover.set_defaults(func=main)


def _index(clusters: Clusters, text: str) -> int:
    if text.isdigit() and int(text) < len(clusters.bootstraps):
        return int(text)
    try:
        return clusters.index(text)
    except ValueError:
        listed = ", ".join(f"{i}: {b}" for i, b in enumerate(clusters.bootstraps))
        raise ConfigError(f"unknown cluster {text!r}; WK_KAFKA_CLUSTERS has {listed}") from None


def main(args: argparse.Namespace) -> int:
    from .runtime.follow import on, read_markers, write_marker

    prefix = topic_prefix() if args.prefix is None else args.prefix
    try:
        clusters = Clusters.from_env()
        settings = KafkaSettings.from_env()
        target = _index(clusters, args.cluster) if args.failover_action == "promote" else None
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if target is not None:
        by = f"operator:{getpass.getuser()}@{socket.gethostname()}"
        bootstrap = clusters.bootstraps[target]
        marker = Marker(target, bootstrap, time.time_ns() // 1_000_000, by)
        if not write_marker(on(settings, bootstrap), prefix, marker):
            print(f"error: could not write the marker on {bootstrap}", file=sys.stderr)
            return 1
        print(f"cluster {target} ({bootstrap}) promoted: services started from now join it")
        return 0
    found = {i: read_markers(on(settings, b), prefix) for i, b in enumerate(clusters.bootstraps)}
    for i, bootstrap in enumerate(clusters.bootstraps):
        markers = found[i]
        if markers is None:
            print(f"{i}  {bootstrap:<40} unreachable")
            continue
        newest = max(markers, key=lambda m: m.since_ms, default=None)
        said = (
            f"newest marker: cluster {newest.cluster} since_ms {newest.since_ms} by {newest.by}"
            if newest
            else "no marker"
        )
        print(f"{i}  {bootstrap:<40} reachable  {said}")
    chosen = choose(clusters.bootstraps, found)
    print(f"a service starting now joins cluster {chosen} ({clusters.bootstraps[chosen]})")
    return 0 if any(m is not None for m in found.values()) else 1
