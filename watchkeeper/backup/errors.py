"""Why a backup or a restore refuses: each carries the reason, in words, for exit 2."""

from __future__ import annotations


class ArchiveError(Exception):
    """The archive is corrupt, truncated, inconsistent or of a format this version cannot
    read. Raised by verification before anything is written to a target cluster."""


class TargetNotEmpty(Exception):
    """The target cluster already holds records in topics of the archive (restore again
    with ``force=True`` / ``--force`` to write into it anyway)."""

    def __init__(self, topics: dict[str, int]) -> None:
        self.topics = topics  # full topic name -> records it holds
        listed = ", ".join(f"{t} ({n} records)" for t, n in sorted(topics.items()))
        super().__init__(
            f"the target is not empty: {listed}; restore into an empty cluster, or pass "
            "--force to write into it (partitions already restored are skipped)"
        )


class RestoreError(Exception):
    """The target refused or lost records while restoring; the message says which."""
