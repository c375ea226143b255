"""What every control-plane CLI (registry, rollout, retrain) shares: the service's URL
and token options (defaults from the environment), and how an answer is printed — JSON,
or text as it is; a refusal prints the service's reason and exits 1."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from ..control.client import ApiError


def service_options(parser: argparse.ArgumentParser, name: str, default_url: str) -> None:
    """``--<name>`` (default ``WK_<NAME>_URL``) and ``--token`` (``WK_<NAME>_TOKEN``)."""
    env = name.upper()
    parser.add_argument(f"--{name}", default=os.environ.get(f"WK_{env}_URL", default_url))
    parser.add_argument("--token", default=os.environ.get(f"WK_{env}_TOKEN", ""))


def print_answer(call: Callable[[], Any], render: Callable[[Any], str] | None = None) -> int:
    try:
        answer = call()
    except ApiError as exc:
        print(f"error: {exc.status} {exc.reason}", file=sys.stderr)
        return 1
    text = render(answer) if render is not None else json.dumps(answer, indent=2, sort_keys=True)
    print(text, end="" if text.endswith("\n") else "\n")
    return 0
