"""What the registry's reads look up: entities by kind, versions per model, and the
filters of its searches. Kept up to date from committed events only.

>>> from watchkeeper.control import Entity
>>> index = Index()
>>> index.add(Entity("model", "fraud", 1, {"name": "fraud", "tags": {"team": "risk"},
...                                        "aliases": {}, "deleted": False}))
>>> index.add(Entity("version", "fraud:1", 1, {"model": "fraud", "version": "1",
...     "metrics": {"auc": 0.91}, "tags": {}, "deleted": False}))
>>> [m["name"] for m in index.models(tag=["team=risk"])]
['fraud']
>>> [v["version"] for v in index.versions(metric=["auc>=0.9"])]
['1']
>>> index.versions(metric=["auc>>1"])
Traceback (most recent call last):
...
watchkeeper.control.commands.Rejected: metric filter 'auc>>1': expected <name><op><number> \
with op one of >=, <=, ==, !=, >, <
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from watchkeeper.control import Entity, Rejected

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_METRIC = re.compile(r"^([A-Za-z0-9_.:/-]+)(>=|<=|==|!=|>|<)(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)$")


def _tag_filter(tags: Iterable[str]) -> Callable[[dict[str, Any]], bool]:
    pairs = []
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise Rejected(400, f"tag filter {tag!r}: expected key=value")
        pairs.append((key, value))
    return lambda data: all(data.get("tags", {}).get(k) == v for k, v in pairs)


def _metric_filter(filters: Iterable[str]) -> Callable[[dict[str, Any]], bool]:
    checks = []
    for text in filters:
        match = _METRIC.match(text.replace(" ", ""))
        if match is None:
            raise Rejected(
                400,
                f"metric filter {text!r}: expected <name><op><number> with op one of "
                + ", ".join(_OPS),
            )
        name, op, value = match.group(1), _OPS[match.group(2)], float(match.group(3))
        checks.append((name, op, value))
    return lambda data: all(
        name in data.get("metrics", {}) and op(data["metrics"][name], value)
        for name, op, value in checks
    )


class Index:
    def __init__(self) -> None:
        self.by_kind: dict[str, dict[str, Entity]] = {}
        self.versions_of: dict[str, dict[str, Entity]] = {}

    def add(self, entity: Entity) -> None:
        self.by_kind.setdefault(entity.kind, {})[entity.key] = entity
        if entity.kind == "version":
            self.versions_of.setdefault(entity.data["model"], {})[entity.data["version"]] = entity

    def get(self, kind: str, key: str, deleted: bool = False) -> Entity | None:
        entity = self.by_kind.get(kind, {}).get(key)
        if entity is None or (entity.deleted and not deleted):
            return None
        return entity

    def _live(self, entities: Iterable[Entity], deleted: bool) -> Iterator[Entity]:
        return (e for e in entities if deleted or not e.deleted)

    def models(
        self,
        name: str | None = None,
        tag: Iterable[str] = (),
        alias: str | None = None,
        deleted: bool = False,
    ) -> list[dict[str, Any]]:
        tagged = _tag_filter(tag)
        found = []
        for entity in self._live(self.by_kind.get("model", {}).values(), deleted):
            data = entity.data
            if name and not fnmatch.fnmatchcase(data["name"], name if "*" in name else f"*{name}*"):
                continue
            if alias and alias not in data["aliases"]:
                continue
            if tagged(data):
                found.append(self.model_view(entity))
        return sorted(found, key=lambda m: m["name"])

    def model_view(self, entity: Entity) -> dict[str, Any]:
        versions = self.versions_of.get(entity.key, {})
        live = [v for v in versions.values() if not v.deleted]
        latest = max(live, key=lambda v: (v.data.get("created_at_ms", 0), v.version), default=None)
        return {
            **entity.view(),
            "versions": len(live),
            "latest_version": latest.data["version"] if latest else None,
        }

    def versions(
        self,
        model: str | None = None,
        tag: Iterable[str] = (),
        metric: Iterable[str] = (),
        status: str | None = None,
        deleted: bool = False,
    ) -> list[dict[str, Any]]:
        tagged, measured = _tag_filter(tag), _metric_filter(metric)
        pool: Iterable[Entity] = (
            self.versions_of.get(model, {}).values()
            if model is not None
            else self.by_kind.get("version", {}).values()
        )
        found = [
            e.view()
            for e in self._live(pool, deleted)
            if tagged(e.data)
            and measured(e.data)
            and (status is None or e.data["status"] == status)
        ]
        return sorted(found, key=lambda v: (v["model"], v.get("created_at_ms", 0), v["version"]))

    def datasets(self, name: str | None = None, deleted: bool = False) -> list[dict[str, Any]]:
        pool = self._live(self.by_kind.get("dataset", {}).values(), deleted)
        found = [e.view() for e in pool if name is None or e.data["name"] == name]
        return sorted(found, key=lambda d: (d["name"], d.get("created_at_ms", 0), d["version"]))
