"""``watchkeeper registry import-mlflow URL`` and ``... export-mlflow URL``.

Both take ``--registry URL`` and ``--token T`` (else ``WK_REGISTRY_URL`` and
``WK_REGISTRY_TOKEN``) and print the Summary. Exit 0 when the sync ran (items MLflow or
the registry refused are listed as skipped), 1 when MLflow or the registry could not be
used (unreachable, auth, server error), 2 for a usage error; never a traceback.

``watchkeeper/cli.py`` hooks them in with ``add_arguments(parser)`` and
``set_defaults(func=cli_import)``; ``python -m services.registry.mlflow.cli
import-mlflow|export-mlflow URL ...`` runs them directly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import export_to, import_from
from .mapping import Summary, status_of
from .rest import MlflowError, MlflowUnreachable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mlflow_url", metavar="URL", help="the MLflow tracking server")
    parser.add_argument(
        "--registry",
        default=os.environ.get("WK_REGISTRY_URL", ""),
        help="the registry's API (default: $WK_REGISTRY_URL)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("WK_REGISTRY_TOKEN", ""),
        help="a bearer token with write scope (default: $WK_REGISTRY_TOKEN)",
    )


def registry_client(url: str, token: str) -> Any:
    """The registry's Python client (a seam: tests may hand in another object)."""
    from watchkeeper.clients import RegistryClient

    return RegistryClient(url, token)


def _parse(verb: str, args: argparse.Namespace | Sequence[str]) -> argparse.Namespace:
    if isinstance(args, argparse.Namespace):
        return args
    parser = argparse.ArgumentParser(prog=f"watchkeeper registry {verb}")
    add_arguments(parser)
    return parser.parse_args(list(args))


def _run(
    verb: str,
    sync: Callable[[str, Any], Summary],
    args: argparse.Namespace | Sequence[str],
) -> int:
    try:
        options = _parse(verb, args)
    except SystemExit as exc:  # argparse has printed the usage
        return int(exc.code or 0)
    if not options.registry:
        print(f"error: {verb} needs --registry URL or WK_REGISTRY_URL", file=sys.stderr)
        return 2
    try:
        summary = sync(options.mlflow_url, registry_client(options.registry, options.token))
    except MlflowUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except MlflowError as exc:
        print(f"error: {options.mlflow_url}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if status_of(exc) is None and not _is_transport_error(exc):
            raise  # a bug of ours: the traceback is the useful report
        print(f"error: registry at {options.registry}: {exc}", file=sys.stderr)
        return 1
    print("\n".join(summary.lines()))
    return 0


def _is_transport_error(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, httpx.TransportError | OSError)


def cli_import(args: argparse.Namespace | Sequence[str]) -> int:
    return _run("import-mlflow", import_from, args)


def cli_export(args: argparse.Namespace | Sequence[str]) -> int:
    return _run("export-mlflow", export_to, args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbs = {"import-mlflow": cli_import, "export-mlflow": cli_export}
    if not argv or argv[0] not in verbs:
        print(
            "usage: python -m services.registry.mlflow.cli import-mlflow|export-mlflow URL "
            "[--registry URL] [--token T]",
            file=sys.stderr,
        )
        return 2
    return verbs[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
