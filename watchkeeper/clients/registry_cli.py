"""``watchkeeper registry ...`` and ``watchkeeper lineage ...``: the registry's API from a
shell or a CI step. Answers print as JSON; a refusal prints the service's reason and
exits 1; a usage error exits 2. ``--registry`` / ``--token`` default to
``WK_REGISTRY_URL`` / ``WK_REGISTRY_TOKEN``.

watchkeeper registry models create|get|list|update|delete ...
watchkeeper registry versions register|get|list|search|delete ...
watchkeeper registry validate MODEL VERSION --passed|--failed [--metric auc=0.9]
watchkeeper registry alias set|get|delete MODEL ALIAS [VERSION] [--reason R] [--force]
watchkeeper registry datasets register|get|list ...
watchkeeper registry history KIND KEY
watchkeeper registry import-mlflow|export-mlflow URL
watchkeeper lineage graph|upstream|downstream|impact NODE [--depth N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._cli import print_answer, service_options
from .dataset_hash import file_digest, topic_range
from .registry import RegistryClient

Verb = Callable[[RegistryClient, argparse.Namespace], Any]


def _usage(message: str) -> None:
    print(message, file=sys.stderr)
    raise SystemExit(2)


def _pairs(items: list[str] | None, what: str, number: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _usage(f"error: {what} {item!r}: expected key=value")
        if number:
            try:
                found[key] = float(value)
            except ValueError:
                _usage(f"error: {what} {item!r}: {value!r} is not a number")
        else:
            found[key] = value
    return found


def _refs(items: list[str] | None) -> list[dict[str, str]]:
    refs = []
    for item in items or []:
        name, sep, version = item.rpartition(":")
        if not sep or not name or not version:
            _usage(f"error: dataset {item!r}: expected NAME:VERSION")
        refs.append({"name": name, "version": version})
    return refs


def _when(text: str | None) -> int | None:
    """Milliseconds since the epoch, from an ISO 8601 time or a number of milliseconds."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _usage(f"error: {text!r} is not an ISO 8601 time or milliseconds")
        raise
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def _register_dataset(rc: RegistryClient, a: argparse.Namespace) -> Any:
    uri, content_hash, rows, source = a.uri, a.content_hash, a.rows, a.source
    time_range = None
    if a.file and a.topic:
        _usage("error: --file or --topic, not both")
    if a.file:
        uri = uri or Path(a.file).resolve().as_uri()
        content_hash = content_hash or file_digest(a.file)
    if a.topic:
        start, end = _when(a.start), _when(a.end)
        if start is None or end is None:
            _usage("error: --topic needs --from and --to (ISO 8601 or milliseconds)")
        from ..settings import KafkaSettings, topic_prefix

        found = topic_range(KafkaSettings.from_env(), topic_prefix() + a.topic, start, end)
        uri = uri or f"{found.uri}?start_ms={start}&end_ms={end}"
        content_hash, rows = found.content_hash, found.records
        source = source or found.uri
        time_range = {"start_ms": start, "end_ms": end}
    return rc.register_dataset(
        a.name, a.version, uri=uri, content_hash=content_hash, row_count=rows,
        source=source, tags=_pairs(a.tag, "tag"), time_range=time_range,
    )  # fmt: skip


def _register_version(rc: RegistryClient, a: argparse.Namespace) -> Any:
    return rc.register_version(
        a.model, a.version, artifact_uri=a.artifact_uri, flavor=a.flavor,
        training_datasets=_refs(a.dataset), evaluation_datasets=_refs(a.eval_dataset),
        code_commit=a.code_commit, params=_pairs(a.param, "param"),
        metrics=_pairs(a.metric, "metric", number=True), tags=_pairs(a.tag, "tag"),
        description=a.description,
    )  # fmt: skip


def _verbs(sub: argparse._SubParsersAction, noun: str, verbs: dict[str, tuple[Verb, list]]):
    parser = sub.add_parser(noun)
    inner = parser.add_subparsers(dest="verb", required=True)
    for verb, (func, arguments) in verbs.items():
        p = inner.add_parser(verb)
        for names, options in arguments:
            p.add_argument(*names, **options)
        p.set_defaults(run=func)


def _arg(*names: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return names, options


MANY = {"action": "append", "default": None}


def add_registry(sub: argparse._SubParsersAction) -> None:
    registry = sub.add_parser("registry", help="models, versions, datasets, aliases")
    _common(registry)
    nouns = registry.add_subparsers(dest="noun", required=True)
    name, model, version = _arg("name"), _arg("model"), _arg("version")
    _verbs(nouns, "models", {
        "create": (lambda rc, a: rc.create_model(a.name, a.description, a.owner_team,
                                                 _pairs(a.tag, "tag")),
                   [name, _arg("--description", default=""), _arg("--owner-team", default=""),
                    _arg("--tag", **MANY)]),
        "get": (lambda rc, a: rc.get_model(a.name), [name]),
        "list": (lambda rc, a: rc.list_models(a.name, a.tag, a.alias),
                 [_arg("--name"), _arg("--tag", **MANY), _arg("--alias")]),
        "update": (lambda rc, a: rc.update_model(a.name, a.description, a.owner_team,
                                                 _pairs(a.tag, "tag") or None),
                   [name, _arg("--description"), _arg("--owner-team"), _arg("--tag", **MANY)]),
        "delete": (lambda rc, a: rc.delete_model(a.name, a.reason),
                   [name, _arg("--reason", default="")]),
    })  # fmt: skip
    _verbs(nouns, "versions", {
        "register": (_register_version, [
            model, version, _arg("--artifact-uri"), _arg("--flavor"),
            _arg("--dataset", help="a training dataset NAME:VERSION", **MANY),
            _arg("--eval-dataset", **MANY), _arg("--code-commit"),
            _arg("--param", **MANY), _arg("--metric", **MANY), _arg("--tag", **MANY),
            _arg("--description")]),
        "get": (lambda rc, a: rc.get_version(a.model, a.version), [model, version]),
        "list": (lambda rc, a: rc.list_versions(a.model, metric=a.metric), [
            model, _arg("--metric", help="e.g. 'auc>=0.9'", **MANY)]),
        "search": (lambda rc, a: rc.search_versions(model=a.model, metric=a.metric, tag=a.tag),
                   [_arg("--model"), _arg("--metric", **MANY), _arg("--tag", **MANY)]),
        "delete": (lambda rc, a: rc.delete_version(a.model, a.version, a.reason),
                   [model, version, _arg("--reason", default="")]),
    })  # fmt: skip
    validate = nouns.add_parser("validate", help="record a validation result")
    validate.add_argument("model")
    validate.add_argument("version")
    outcome = validate.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--passed", action="store_true")
    outcome.add_argument("--failed", action="store_true")
    validate.add_argument("--metric", **MANY)
    validate.add_argument("--validator", default="")
    validate.add_argument("--details", default="")
    validate.set_defaults(run=lambda rc, a: rc.record_validation(
        a.model, a.version, a.passed, _pairs(a.metric, "metric", number=True), a.validator,
        a.details))  # fmt: skip
    alias = _arg("alias")
    _verbs(nouns, "alias", {
        "set": (lambda rc, a: rc.set_alias(a.model, a.alias, a.version, a.reason, a.force),
                [model, alias, version, _arg("--reason", default=""),
                 _arg("--force", action="store_true", help="admin: past the gate")]),
        "get": (lambda rc, a: rc.get_alias(a.model, a.alias), [model, alias]),
        "delete": (lambda rc, a: rc.delete_alias(a.model, a.alias, a.reason),
                   [model, alias, _arg("--reason", default="")]),
    })  # fmt: skip
    _verbs(nouns, "datasets", {
        "register": (_register_dataset, [
            name, version, _arg("--uri"), _arg("--file", help="hash it (and use its URI)"),
            _arg("--topic", help="hash the records of a topic range (KAFKA_* settings)"),
            _arg("--from", dest="start", help="the range's start (ISO 8601 or ms)"),
            _arg("--to", dest="end", help="the range's end, exclusive"),
            _arg("--content-hash"), _arg("--rows", type=int), _arg("--source", default=""),
            _arg("--tag", **MANY)]),
        "get": (lambda rc, a: rc.get_dataset(a.name, a.version), [name, version]),
        "list": (lambda rc, a: rc.list_datasets(a.name), [_arg("--name")]),
    })  # fmt: skip
    history = nouns.add_parser("history", help="every event of an entity, with its audit")
    history.add_argument("kind", choices=("model", "version", "dataset", "job", "stream"))
    history.add_argument("key", help="model name, MODEL:VERSION, NAME:VERSION")
    history.set_defaults(run=lambda rc, a: rc.history(a.kind, a.key))
    for verb in ("import-mlflow", "export-mlflow"):
        p = nouns.add_parser(verb, help=f"{verb.split('-')[0]} models, versions and aliases")
        p.add_argument("mlflow_url", metavar="URL")
        p.set_defaults(mlflow=verb)


def add_lineage(sub: argparse._SubParsersAction) -> None:
    lineage = sub.add_parser("lineage", help="the lineage graph and impact analysis")
    _common(lineage)
    verbs = lineage.add_subparsers(dest="verb", required=True)
    for verb, path in (("graph", ""), ("upstream", "/upstream"), ("downstream", "/downstream"),
                       ("impact", "/impact")):  # fmt: skip
        p = verbs.add_parser(verb)
        p.add_argument("node", help="e.g. dataset:s3://lake:raw/clicks, version:fraud:3")
        if verb != "impact":
            p.add_argument("--depth", type=int, default=20)
        p.set_defaults(
            run=lambda rc, a, path=path: rc.get(
                f"/api/v1/lineage{path}", nodeId=a.node, depth=getattr(a, "depth", None)
            )
        )


def _common(parser: argparse.ArgumentParser) -> None:
    service_options(parser, "registry", "http://127.0.0.1:8108")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "mlflow", None):
        from services.registry.mlflow import cli as mlflow_cli

        verb = mlflow_cli.cli_import if args.mlflow == "import-mlflow" else mlflow_cli.cli_export
        return verb(args)
    with RegistryClient(args.registry, args.token or None) as rc:
        return print_answer(lambda: args.run(rc, args))
