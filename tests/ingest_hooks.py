"""A transformation hook for the ingest tests: hangs on one row (the process is then killed
with SIGKILL mid-file), raises on another (that row is dead-lettered), passes the rest."""

from __future__ import annotations

import os
import threading


def hang_or_pass(row: dict) -> dict:
    if row.get("id") == os.environ.get("WK_TEST_HANG_AT_ID"):
        threading.Event().wait()  # until SIGKILL
    if row.get("id") == os.environ.get("WK_TEST_RAISE_AT_ID", "raise"):
        raise RuntimeError("the hook refuses this row")
    return row
