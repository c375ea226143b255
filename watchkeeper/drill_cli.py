"""``watchkeeper drill [failover|restore|all]``: run the drills, print RTO and RPO.

Exit 0 when every figure meets its target (``--rto-target``, ``--rpo-target`` in seconds,
``--rpo-events``), 1 when one misses, so a scheduled job can run drills and page on a
regression; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("which", nargs="?", default="all", choices=("all", "failover", "restore"))
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    parser.add_argument("--workdir", metavar="DIR", help="keep clusters and logs here")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s per model")
    parser.add_argument("--failover-after", type=float, default=3.0, metavar="S")
    parser.add_argument("--rto-target", type=float, default=60.0, metavar="S")
    parser.add_argument("--rpo-target", type=float, default=5.0, metavar="S")
    parser.add_argument("--rpo-events", type=int, default=None, metavar="N")


def run(which: str, workdir: Path, rate: float, failover_after: float) -> dict:
    from .drill import failover_drill, restore_drill

    figures: dict = {}
    if which in ("all", "failover"):
        print("== failover drill: a dies, the system carries on from b ==")
        figures |= failover_drill(
            workdir / "failover", rate_per_s=rate, failover_after_s=failover_after
        ).as_json()
    if which in ("all", "restore"):
        print("== restore drill: the cluster is lost, rebuilt from a backup ==")
        figures |= restore_drill(workdir / "restore", rate_per_s=rate).as_json()
    return figures


def misses(figures: dict, args: argparse.Namespace) -> list[str]:
    """The targets a drill's figures miss, in words.

    >>> ns = argparse.Namespace(rto_target=60.0, rpo_target=5.0, rpo_events=0)
    >>> misses({"rto_s": 12.0, "rpo_s": 0.4, "rpo_events": 3}, ns)
    ['RPO 3 events > 0']
    >>> misses({"rto_s": None, "restore_rto_s": 30.0}, ns)
    ['RTO: no alert within the drill']
    """
    out = []
    for key, name in (("rto_s", "RTO"), ("restore_rto_s", "restore RTO")):
        if key in figures:
            value = figures[key]
            if value is None:
                out.append(f"{name}: no alert within the drill")
            elif value > args.rto_target:
                out.append(f"{name} {value:.1f} s > {args.rto_target:g} s")
    if figures.get("rpo_s", 0.0) > args.rpo_target:
        out.append(f"RPO {figures['rpo_s']:.2f} s > {args.rpo_target:g} s")
    if args.rpo_events is not None and figures.get("rpo_events", 0) > args.rpo_events:
        out.append(f"RPO {figures['rpo_events']} events > {args.rpo_events}")
    return out


def main(args: argparse.Namespace) -> int:
    if args.workdir:
        figures = run(args.which, Path(args.workdir), args.rate, args.failover_after)
    else:
        with tempfile.TemporaryDirectory(prefix="wk-drill-") as tmp:
            figures = run(args.which, Path(tmp), args.rate, args.failover_after)
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    missed = misses(figures, args)
    for miss in missed:
        print(f"target missed: {miss}")
    return 1 if missed else 0
