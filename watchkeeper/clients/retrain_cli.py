"""``watchkeeper retrain ...``: the retrain service's API from a shell. Answers print as
JSON (``show`` prints the run's timeline as lines); a refusal prints the service's
reason and exits 1. ``--retrain`` / ``--token`` default to ``WK_RETRAIN_URL`` /
``WK_RETRAIN_TOKEN``.

watchkeeper retrain trigger MODEL [--reason R] [--version V]
watchkeeper retrain runs [--model M] [--state S]
watchkeeper retrain show RUN
watchkeeper retrain approve|reject|cancel RUN --reason R
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from ._cli import print_answer, service_options
from .retrain import ACTS, RetrainClient


def add_retrain(sub: argparse._SubParsersAction) -> None:
    retrain = sub.add_parser("retrain", help="retraining runs: trigger, list, approve ...")
    service_options(retrain, "retrain", "http://127.0.0.1:8110")
    verbs = retrain.add_subparsers(dest="verb", required=True)
    trigger = verbs.add_parser("trigger", help="start a run by hand")
    trigger.add_argument("model")
    trigger.add_argument("--reason", default="")
    trigger.add_argument("--version")
    runs = verbs.add_parser("runs")
    runs.add_argument("--model")
    runs.add_argument("--state")
    verbs.add_parser("show").add_argument("run")
    for act in ACTS:
        p = verbs.add_parser(act)
        p.add_argument("run")
        p.add_argument("--reason", required=act != "cancel", default="")
    retrain.set_defaults(func=run)


def timeline(run: dict[str, Any]) -> str:
    """A run as lines: when, what, who, why.

    >>> print(timeline({"id": "fraud-1", "state": "promoted", "timeline": [
    ...     {"at_ms": 0, "event": "created", "by": "drift", "reason": "psi 0.31"}]}))
    fraud-1: promoted
      1970-01-01T00:00:00Z  created            drift        psi 0.31
    """
    lines = [f"{run['id']}: {run['state']}"]
    for e in run.get("timeline", []):
        at = datetime.fromtimestamp(e["at_ms"] / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"  {at}  {e['event']:<18} {e['by']:<12} {e['reason']}".rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    with RetrainClient(args.retrain, args.token or None) as rc:
        if args.verb == "trigger":
            return print_answer(lambda: rc.trigger(args.model, args.reason, args.version))
        if args.verb == "runs":
            return print_answer(lambda: rc.runs(args.model, args.state))
        if args.verb == "show":
            return print_answer(lambda: rc.run(args.run), timeline)
        return print_answer(lambda: rc.act(args.run, args.verb, args.reason))
