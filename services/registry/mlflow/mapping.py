"""What an MLflow import or export did (``Summary``), and the words both directions share:
the tags that carry our fields MLflow has no place for, and how statuses translate.

The ``registry`` both directions talk to is anything with RegistryClient's methods; its
errors are told apart by their ``status`` attribute (``ApiError(status, reason)``), so a
stand-in and the real client behave the same here.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Tags on MLflow objects that carry our fields (and are not tags on our side).
VERSION_TAG = "watchkeeper.version"  # MLflow numbers versions itself; ours are strings
OWNER_TAG = "watchkeeper.owner_team"
FLAVOR_TAG = "watchkeeper.flavor"
DATASETS_TAG = "watchkeeper.training_datasets"  # JSON list of {"name", "version"}
MODEL_TAG = "watchkeeper.model"  # on the exported runs, with VERSION_TAG
GIT_COMMIT_TAG = "mlflow.source.git.commit"  # MLflow's own run tag for the code commit
EXPERIMENT = "watchkeeper-registry"
IMPORT_REASON = "imported from mlflow"

STATUS_FROM_MLFLOW = {
    "READY": "ready",
    "PENDING_REGISTRATION": "pending",
    "FAILED_REGISTRATION": "failed",
}


def status_from_mlflow(status: str) -> str:
    """Our status for MLflow's (READY, PENDING_REGISTRATION, FAILED_REGISTRATION).

    >>> status_from_mlflow("READY"), status_from_mlflow("FAILED_REGISTRATION")
    ('ready', 'failed')
    """
    return STATUS_FROM_MLFLOW.get(status, (status or "ready").lower())


@dataclass
class Summary:
    """What one import or export changed, left alone or refused, by item (``model churn``,
    ``version churn:3``, ``alias churn@champion``).

    >>> s = Summary("import", created=["model churn"], unchanged=4)
    >>> s.skip("model fraud detector", "registry refused it: 400 bad name")
    >>> s.changes
    1
    >>> print("\\n".join(s.lines()))
    import: 1 created, 0 updated, 4 unchanged, 1 skipped
      created model churn
      skipped model fraud detector: registry refused it: 400 bad name
    """

    direction: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.created) + len(self.updated)

    def skip(self, item: str, reason: str) -> None:
        self.skipped.append((item, reason))

    def lines(self) -> list[str]:
        out = [
            f"{self.direction}: {len(self.created)} created, {len(self.updated)} updated, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped"
        ]
        out += [f"  created {item}" for item in self.created]
        out += [f"  updated {item}" for item in self.updated]
        out += [f"  skipped {item}: {reason}" for item, reason in self.skipped]
        return out


# -- talking to the registry ---------------------------------------------------------------


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a registry error (None for anything else)."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def refused(exc: BaseException) -> bool:
    """A registry answer that is about this one item (bad name, conflict, gate), which the
    sync reports and goes on past; auth failures and server errors stop it instead."""
    return status_of(exc) in (400, 404, 409, 412, 422)


def reason_of(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or str(exc)
    return f"registry refused it: {status_of(exc)} {reason}"


def get_or_none(method: Callable[..., dict], *args: Any) -> dict | None:
    """``method(*args)``, or None when the registry answers 404."""
    try:
        return method(*args)
    except Exception as exc:
        if status_of(exc) == 404:
            return None
        raise


def idempotency_key(*content: Any) -> str:
    """A key derived from what a write carries, so that a retried or repeated import
    sends the same key for the same write.

    >>> idempotency_key("create_model", "churn", {"team": "risk"})
    'mlflow-518125c2c563071fb38f6569391e2a87'
    """
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return "mlflow-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def write(method: Callable[..., dict], key: str, *args: Any, **kwargs: Any) -> dict:
    """Call a RegistryClient write, handing it ``idempotency_key`` where it takes one (the
    contract's client sets the header; a client without the keyword still works)."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "idempotency_key" in parameters:
        kwargs["idempotency_key"] = key
    return method(*args, **kwargs)
