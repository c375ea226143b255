"""``watchkeeper rollout ...``: the rollout service's API from a shell or a CI step.
Answers print as JSON (a mesh export as YAML with ``--yaml``); a refusal prints the
service's reason and exits 1; a usage error or an unreadable spec exits 2.
``--rollout`` / ``--token`` default to ``WK_ROLLOUT_URL`` / ``WK_ROLLOUT_TOKEN``.

watchkeeper rollout start SPEC.yaml [--idempotency-key K]
watchkeeper rollout get ID | list [--model M] [--state S] | verdict ID
watchkeeper rollout pause|resume|abort|rollback|switch ID [--reason R]
watchkeeper rollout routing MODEL [--httproute|--virtualservice] [--namespace NS] [--yaml]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._cli import print_answer, service_options
from .rollout import ACTS, RolloutClient


def add_rollout(sub: argparse._SubParsersAction) -> None:
    rollout = sub.add_parser("rollout", help="canary, blue-green and A/B rollouts; routing")
    service_options(rollout, "rollout", "http://127.0.0.1:8109")
    verbs = rollout.add_subparsers(dest="verb", required=True)
    start = verbs.add_parser("start", help="start a rollout from a YAML (or JSON) spec")
    start.add_argument("spec")
    start.add_argument("--idempotency-key")
    for verb in ("get", "verdict"):
        verbs.add_parser(verb).add_argument("id")
    listing = verbs.add_parser("list")
    listing.add_argument("--model")
    listing.add_argument("--state")
    for act in ACTS:
        p = verbs.add_parser(act)
        p.add_argument("id")
        p.add_argument("--reason", default="")
    routing = verbs.add_parser("routing", help="a model's live split")
    routing.add_argument("model")
    mesh = routing.add_mutually_exclusive_group()
    mesh.add_argument("--httproute", action="store_const", const="httproute", dest="export")
    mesh.add_argument("--virtualservice", action="store_const", const="virtualservice",
                      dest="export")  # fmt: skip
    routing.add_argument("--namespace")
    routing.add_argument("--yaml", action="store_true", help="print YAML (kubectl apply -f -)")
    rollout.set_defaults(func=run)


def _answer(rc: RolloutClient, a: argparse.Namespace) -> Any:
    if a.verb == "start":
        from ..yamlconf import ConfigFileError, Mapping, load_file

        try:
            spec = load_file(a.spec)
        except ConfigFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        if not isinstance(spec, Mapping):
            print(f"error: {a.spec}:1: a rollout spec is a mapping", file=sys.stderr)
            raise SystemExit(2)
        return rc.start(spec, a.idempotency_key)
    if a.verb == "get":
        return rc.get_rollout(a.id)
    if a.verb == "verdict":
        return rc.verdict(a.id)
    if a.verb == "list":
        return rc.list_rollouts(a.model, a.state)
    if a.verb == "routing":
        return rc.routing(a.model, a.export or "", namespace=a.namespace)
    return rc.act(a.id, a.verb, a.reason)


def _yaml(answer: Any) -> str:
    import yaml

    return yaml.safe_dump(answer, sort_keys=False)


def run(args: argparse.Namespace) -> int:
    with RolloutClient(args.rollout, args.token or None) as rc:
        return print_answer(
            lambda: _answer(rc, args), _yaml if getattr(args, "yaml", False) else None
        )
