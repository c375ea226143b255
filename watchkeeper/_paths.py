"""Where the repository's shared files live.

The contracts (``schemas/``) and the local Kafka project (``deploy/kafka``) sit at the
top of the repository so that non-Python consumers find them too. ``WK_SCHEMA_DIR``
points elsewhere when the package runs outside a checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def schema_dir() -> Path:
    return Path(os.environ.get("WK_SCHEMA_DIR") or REPO_ROOT / "schemas")


def cache_dir() -> Path:
    """Git-ignored working folder for jars, broker data and logs."""
    return Path(os.environ.get("WK_CACHE_DIR") or REPO_ROOT / ".cache")
