"""Where the package's files and the repository's working folders live.

The contracts ship inside the package (``watchkeeper/schemas/``) so that an installed
wheel decodes without a checkout; ``WK_SCHEMA_DIR`` points elsewhere, e.g. at a scratch
copy being evolved. The local Kafka project (``deploy/kafka``) and the service
configuration stay at the top of the repository: only a checkout runs them.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
PACKAGED_SCHEMAS = PACKAGE_DIR / "schemas"


def schema_dir() -> Path:
    return Path(os.environ.get("WK_SCHEMA_DIR") or PACKAGED_SCHEMAS)


def cache_dir() -> Path:
    """Git-ignored working folder for jars, broker data and logs."""
    return Path(os.environ.get("WK_CACHE_DIR") or REPO_ROOT / ".cache")
