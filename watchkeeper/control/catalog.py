"""Every entity of a control-plane service as committed, by kind: what its read routes
answer from (fed by the service's ``on_commit``, the replay included).

>>> from watchkeeper.control import Entity
>>> catalog = Catalog()
>>> catalog.committed(Entity("run", "fraud-1", 3, {"state": "running"}, 0))
>>> list(catalog.of("run")), catalog.of("model")
(['fraud-1'], {})
"""

from __future__ import annotations

from .events import Entity


class Catalog:
    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, Entity]] = {}

    def committed(self, entity: Entity) -> None:
        self.of(entity.kind)[entity.key] = entity

    def of(self, kind: str) -> dict[str, Entity]:
        """The entities of ``kind`` by key (live: later commits show in it)."""
        return self._by_kind.setdefault(kind, {})
