"""Sticky assignment of requests to a model's variants by a traffic split.

Each key (a user id, a session) falls in one of a million buckets by a hash of the
split's salt and the key; the variants own consecutive ranges of buckets in their
declared order, sized by their weights. The same key always lands in the same bucket, so
a user keeps their variant while the split stands; when weight moves between two
neighbouring variants (a canary's 5 % -> 25 %), only the keys in the range that changed
hands move, and they move from the one to the other (raising a weight never reshuffles
anyone else). A new salt (a new experiment) reshuffles everyone on purpose.

>>> split = Split("fraud", (Variant("baseline", "3.1.0", 95.0), Variant("canary", "3.2.0", 5.0)))
>>> split.assign("user-42").name, split.assign("user-42") == split.assign("user-42")
('baseline', True)
>>> raised = split.with_weights({"baseline": 75.0, "canary": 25.0})
>>> moved = [k for k in map(str, range(10_000)) if split.assign(k).name != raised.assign(k).name]
>>> {(split.assign(k).name, raised.assign(k).name) for k in moved}, round(len(moved) / 10_000, 2)
({('baseline', 'canary')}, 0.2)

On the compacted ``routing`` topic a split is one JSON record keyed by the model's name
(a tombstone: the model has no split, callers serve their own default):

>>> Split.from_json(split.to_json()) == split
True
>>> split.to_json()[:60]
b'{"model":"fraud","salt":"","variants":[{"name":"baseline","v'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BUCKETS = 1_000_000


class SplitError(ValueError):
    """A split that cannot route traffic (weights, names)."""


@dataclass(frozen=True)
class Variant:
    name: str
    version: str
    weight: float  # percent of traffic


@dataclass(frozen=True)
class Split:
    model: str
    variants: tuple[Variant, ...]
    salt: str = ""  # empty: the model's name
    rollout: str = ""  # the rollout that set it, if any
    seq: int = 0  # grows with every change of the model's split (the entity version)

    def __post_init__(self) -> None:
        if not self.variants:
            raise SplitError(f"{self.model}: a split needs at least one variant")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise SplitError(f"{self.model}: variant names repeat: {names}")
        if any(v.weight < 0 for v in self.variants):
            raise SplitError(f"{self.model}: a weight is negative")
        total = sum(v.weight for v in self.variants)
        if abs(total - 100.0) > 1e-6:
            raise SplitError(f"{self.model}: weights add up to {total:g}, not 100")
        edges, running = [], 0.0
        for v in self.variants:
            running += v.weight
            edges.append(round(running * BUCKETS / 100))
        object.__setattr__(self, "_edges", tuple(edges))

    def bucket(self, key: str) -> int:
        digest = hashlib.blake2b(
            f"{self.salt or self.model}\0{key}".encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") % BUCKETS

    def assign(self, key: str) -> Variant:
        bucket = self.bucket(key)
        for variant, edge in zip(self.variants, self._edges, strict=True):  # type: ignore[attr-defined]
            if bucket < edge:
                return variant
        return self.variants[-1]  # rounding at the top edge

    def with_weights(self, weights: Mapping[str, float]) -> Split:
        """The same variants (and salt) with new weights: the step of a rollout."""
        unknown = set(weights) - {v.name for v in self.variants}
        if unknown:
            raise SplitError(f"{self.model}: no variants {sorted(unknown)}")
        variants = tuple(
            Variant(v.name, v.version, float(weights.get(v.name, v.weight))) for v in self.variants
        )
        return Split(self.model, variants, self.salt, self.rollout, self.seq)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "salt": self.salt,
            "variants": [
                {"name": v.name, "version": v.version, "weight": v.weight} for v in self.variants
            ],
            "rollout": self.rollout,
            "seq": self.seq,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Split:
        """A split from its record; ``SplitError`` names what is wrong with it."""
        try:
            variants = tuple(
                Variant(str(v["name"]), str(v["version"]), float(v["weight"]))
                for v in doc["variants"]
            )
            return cls(
                str(doc["model"]),
                variants,
                str(doc.get("salt", "")),
                str(doc.get("rollout", "")),
                int(doc.get("seq", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SplitError):
                raise
            raise SplitError(f"not a split record: {exc!r}") from exc

    @classmethod
    def from_json(cls, value: bytes) -> Split:
        try:
            doc = json.loads(value)
        except ValueError as exc:
            raise SplitError(f"not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise SplitError("a split record is a JSON object")
        return cls.from_dict(doc)
