"""Where references live: the compacted ``drift-references`` topic, one record per model
version, read whole by every drift worker and followed while it runs.

Setting one is an explicit act (``python -m services.drift reference ...``, in
``reference_cli``); replacing one needs ``--replace`` and is logged, because every verdict
after it is measured against it. The store runs beside the tasks (``kit.Beside``): loaded
to the end of the topic before the first task exists.
"""

from __future__ import annotations

import logging
import threading

from watchkeeper.runtime import compacted
from watchkeeper.settings import KafkaSettings

from .profile import Reference

log = logging.getLogger(__name__)


class ReferenceStore:
    """Every reference on the topic, kept current by a background reader."""

    def __init__(self, settings: KafkaSettings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._references: dict[tuple[str, str, str | None], Reference] = {}
        self.version = 0  # bumped at every change: readers re-check only when it moved
        self._lock = threading.Lock()
        self._table = compacted.Table(settings, topic, self._apply, name="wk-references")
        self.errors = 0

    def get(self, model: str, version: str, segment: str | None = None) -> Reference | None:
        return self._references.get((model, version, segment))

    def put(self, reference: Reference, segment: str | None = None) -> None:
        """Install a reference this worker built itself (it also publishes it)."""
        with self._lock:
            self._references[(reference.model, reference.version, segment)] = reference
            self.version += 1

    def __len__(self) -> int:
        return len(self._references)

    def problem(self) -> str | None:
        """For /healthz: None once the topic was read to its end and is being followed."""
        return self._table.problem()

    def start(self, timeout: float = 60.0) -> ReferenceStore:
        """Read the topic to its end before returning, then follow it in the background."""
        if not self._table.start(timeout):
            raise TimeoutError(
                self._table.error or f"could not read {self.topic} to its end in {timeout:.0f} s"
            )
        log.info("references loaded", extra={"references": len(self)})
        return self

    def stop(self) -> None:
        self._table.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        parts = key.decode(errors="replace").split("\x00")
        if len(parts) not in (2, 3):
            self.errors += 1
            log.error("reference with a malformed key skipped", extra={"key": repr(key)})
            return
        model, version = parts[0], parts[1]
        ident = (model, version, parts[2] if len(parts) == 3 else None)
        with self._lock:
            self.version += 1
            if value is None:
                self._references.pop(ident, None)
                return
            try:
                self._references[ident] = Reference.from_json(value)
            except (ValueError, KeyError, TypeError) as exc:
                self.errors += 1
                log.error(
                    "unreadable reference skipped",
                    extra={"model": model, "version": version, "error": str(exc)},
                )


def read_all(
    settings: KafkaSettings, topic: str, timeout: float = 30.0
) -> dict[tuple[str, str, str | None], Reference]:
    store = ReferenceStore(settings, topic)
    for record in compacted.read(settings, topic, timeout):
        store._apply(record.key, record.value)
    return dict(store._references)
