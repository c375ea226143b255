"""``watchkeeper gate validate|staging|rollout|watch``: CI/CD gates from a shell.

Each prints its report and exits 0 (pass), 1 (fail, or its result could not be
recorded) or 2 (bad usage or input, with the reason). With ``--registry-url`` (default
``WK_REGISTRY_URL``) the result is recorded on the model version as a validation by
``gate:<name>``; the token is ``--registry-token`` or ``WK_REGISTRY_TOKEN``.

watchkeeper gate validate --model M --candidate V --holdout FILE --candidate-scores COL ...
watchkeeper gate staging --model M --version V [--timeout S] -- CMD ...
watchkeeper gate rollout --rollout-url URL --spec FILE [--timeout S]
watchkeeper gate watch --model M --version V --minutes N | --seconds N
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..control.client import ApiError
from .report import GateResult, UsageError

MANY = {"action": "append", "default": None}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--registry-url",
        default=os.environ.get("WK_REGISTRY_URL", ""),
        help="record the result on the version (default WK_REGISTRY_URL)",
    )
    p.add_argument("--registry-token", default=os.environ.get("WK_REGISTRY_TOKEN", ""),
                   help="a token with the write scope (default WK_REGISTRY_TOKEN)")  # fmt: skip


def add_gate(sub: argparse._SubParsersAction) -> None:
    gate = sub.add_parser("gate", help="CI/CD gates: validate, staging, rollout, watch")
    gates = gate.add_subparsers(dest="gate", required=True)

    v = gates.add_parser("validate", help="candidate vs champion on a holdout file")
    v.add_argument("--model", required=True)
    v.add_argument("--candidate", required=True, help="the candidate version")
    champion = v.add_mutually_exclusive_group()
    champion.add_argument("--champion", help="the champion version (for the report)")
    champion.add_argument("--champion-alias", help="resolve the champion by alias (registry)")
    v.add_argument("--holdout", required=True, type=Path, help=".csv (with header) or .jsonl")
    v.add_argument("--label-column", default="label", help="0/1 labels (default label)")
    v.add_argument("--candidate-scores", metavar="COL")
    v.add_argument("--candidate-predict", metavar="MODULE:FUNCTION")
    v.add_argument("--champion-scores", metavar="COL")
    v.add_argument("--champion-predict", metavar="MODULE:FUNCTION")
    for kind, example in (("min", "auc=0.8"), ("max", "log_loss=0.5"),
                          ("min-delta", "auc=0.01"), ("max-delta", "log_loss=0")):  # fmt: skip
        v.add_argument(f"--{kind}", metavar="METRIC=X", help=f"e.g. {example}", **MANY)
    v.add_argument("--thresholds", type=Path, help="YAML: metric -> {min, max, min_delta, ...}")
    v.add_argument("--decision-threshold", type=float, default=0.5,
                   help="score >= this is a positive decision (default 0.5)")  # fmt: skip
    v.add_argument("--sensitive", metavar="COL", help="the protected attribute's column")
    v.add_argument("--max-gap", metavar="NAME=X", help="parity, tpr or odds, e.g. tpr=0.1", **MANY)
    v.add_argument("--min-impact", type=float, help="disparate impact at least, e.g. 0.8")
    v.add_argument("--min-group-size", type=int, default=30)
    v.add_argument("--quality-gate", metavar="GATE", help="must be unblocked (gates topic)", **MANY)
    v.add_argument("--unknown-gate", choices=("fail", "pass"), default="fail",
                   help="a quality gate with no state yet (default fail)")  # fmt: skip
    _common(v)
    v.set_defaults(gate_run=_validate)

    s = gates.add_parser("staging", help="run the integration tests against the staged version")
    s.add_argument("--model", required=True)
    s.add_argument("--version", required=True)
    s.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    s.add_argument("--url", help="the staged endpoint, as WK_STAGING_URL to the command")
    s.add_argument("--tail", type=int, default=20, help="output lines in the report")
    s.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    _common(s)
    s.set_defaults(gate_run=_staging)

    r = gates.add_parser("rollout", help="start a canary and wait until promoted or rolled back")
    r.add_argument("--rollout-url", default=os.environ.get("WK_ROLLOUT_URL", ""))
    r.add_argument("--spec", required=True, type=Path, help="the rollout spec (YAML)")
    r.add_argument("--token", default=os.environ.get("WK_ROLLOUT_TOKEN", ""))
    r.add_argument("--timeout", type=float, default=1800.0, help="seconds (default 1800)")
    r.add_argument("--poll", type=float, default=2.0, help="seconds between reads")
    r.add_argument("--idempotency-key", help="e.g. the CI job id: a retried job resumes")
    _common(r)
    r.set_defaults(gate_run=_rollout)

    w = gates.add_parser("watch", help="fail if an alert for the version fires")
    w.add_argument("--model", required=True)
    w.add_argument("--version", required=True)
    span = w.add_mutually_exclusive_group(required=True)
    span.add_argument("--minutes", type=float)
    span.add_argument("--seconds", type=float)
    w.add_argument("--label", metavar="K=V", help="further labels the alert must have", **MANY)
    _common(w)
    w.set_defaults(gate_run=_watch)
    gate.set_defaults(func=run)


def _validate(a: argparse.Namespace) -> GateResult:
    from . import qualitygate, thresholds
    from .fairness import parse_gaps
    from .validate import Scoring, ValidateRequest, validate

    found = thresholds.from_pairs(min=a.min, max=a.max, min_delta=a.min_delta,
                                  max_delta=a.max_delta)  # fmt: skip
    if a.thresholds:
        found += thresholds.from_file(a.thresholds)
    champion = a.champion
    if a.champion_alias:
        if not a.registry_url:
            raise UsageError("--champion-alias needs --registry-url (or WK_REGISTRY_URL)")
        champion = _alias(a.registry_url, a.registry_token, a.model, a.champion_alias)
    request = ValidateRequest(
        model=a.model, candidate=a.candidate, holdout=a.holdout, label_column=a.label_column,
        candidate_scoring=Scoring(a.candidate_scores, a.candidate_predict),
        champion_scoring=Scoring(a.champion_scores, a.champion_predict), champion=champion,
        thresholds=found, decision_threshold=a.decision_threshold, sensitive=a.sensitive,
        max_gaps=parse_gaps(a.max_gap), min_impact=a.min_impact,
        min_group_size=a.min_group_size, quality_gates=a.quality_gate or [],
        unknown_gate_passes=a.unknown_gate == "pass",
    )  # fmt: skip
    states = None
    if request.quality_gates:
        from ..settings import KafkaSettings, topic_prefix

        states = qualitygate.latest_states(KafkaSettings.from_env(), topic_prefix() + "gates")
    return validate(request, states)


def _alias(url: str, token: str, model: str, alias: str) -> str:
    from ..clients.registry import RegistryClient

    with RegistryClient(url, token or None) as rc:
        try:
            held = rc.get_alias(model, alias)["version"]  # the version record it names
        except ApiError as exc:
            raise UsageError(f"champion alias {model}@{alias}: {exc.status} {exc.reason}") from None
    if not held:
        raise UsageError(f"champion alias {model}@{alias} names a deleted version")
    return str(held["version"])


def _staging(a: argparse.Namespace) -> GateResult:
    from .staging import staging

    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if a.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    return staging(a.model, a.version, command, a.timeout, a.url, a.tail)


def _rollout(a: argparse.Namespace) -> GateResult:
    from .rollout import load_spec, rollout

    if not a.rollout_url:
        raise UsageError("give --rollout-url (or WK_ROLLOUT_URL)")
    spec = load_spec(a.spec)
    return rollout(a.rollout_url, spec, a.token or None, a.timeout, a.poll, a.idempotency_key)


def _watch(a: argparse.Namespace) -> GateResult:
    from ..settings import KafkaSettings, topic_prefix
    from .watch import watch

    seconds = a.seconds if a.seconds is not None else a.minutes * 60
    if seconds <= 0:
        raise UsageError("--minutes/--seconds must be more than 0")
    labels = {}
    for item in a.label or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--label {item!r}: expected key=value")
        labels[key] = value
    return watch(KafkaSettings.from_env(), topic_prefix() + "alerts", a.model, a.version,
                 seconds, labels)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import KafkaException

    try:
        result: GateResult = args.gate_run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KafkaException, TimeoutError) as exc:
        # No verdict without the topic: the gate fails, and says why.
        print(f"error: gate:{args.gate}: cannot read Kafka: {exc}", file=sys.stderr)
        return 1
    print(result.table(), flush=True)
    if args.registry_url:
        try:
            result.record(args.registry_url, args.registry_token or None)
        except ApiError as exc:
            print(f"error: the result was not recorded: {exc.status} {exc.reason}",
                  file=sys.stderr)  # fmt: skip
            return 1
        print(f"recorded on {result.model} version {result.version} as gate:{result.gate}")
    return 0 if result.passed else 1
