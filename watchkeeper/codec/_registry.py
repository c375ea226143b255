"""The schemas this installation knows: every published version of every event type.

Layout on disk (``watchkeeper/schemas/``, shipped in the wheel; ``WK_SCHEMA_DIR``
points elsewhere)::

    schemas/<type>/v<N>.avsc          one file per published version, never edited
    schemas/<type>/examples/*.json    golden payloads of the newest version
    schemas/fingerprints.lock         the fingerprint of each published version

Readers decode with the newest version of a type; data written by any older version
resolves into it, which is why each new version must read every older one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint as avro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from .._paths import schema_dir

_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")
LOCK_FILE = "fingerprints.lock"


@dataclass(frozen=True)
class SchemaVersion:
    """One published version of one event type."""

    type_dir: str  # e.g. "prediction_event"
    name: str  # the record's short name, e.g. "PredictionEvent"
    version: int
    raw: dict[str, Any] = field(repr=False)
    parsed: dict[str, Any] = field(repr=False, compare=False)
    canonical: str = field(repr=False)
    fingerprint: bytes  # 8 bytes, little-endian CRC-64-AVRO of the canonical form
    path: Path = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def load_version(path: Path, type_dir: str, version: int) -> SchemaVersion:
    try:
        raw = json.loads(path.read_text())
        parsed = parse_schema(raw)
        canonical = to_parsing_canonical_form(raw)
    except Exception as exc:
        raise ValueError(f"{path}: not a valid Avro schema: {exc}") from None
    return SchemaVersion(
        type_dir=type_dir,
        name=raw["name"],
        version=version,
        raw=raw,
        parsed=parsed,
        canonical=canonical,
        # fastavro gives the little-endian hex the Java implementation writes after C3 01.
        fingerprint=bytes.fromhex(avro_fingerprint(canonical, "CRC-64-AVRO")),
        path=path,
    )


class SchemaRegistry:
    """All versions of all event types found under one schema folder (default: the packaged)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else schema_dir()
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"schema folder {self.root} not found; unset WK_SCHEMA_DIR to use the packaged "
                "schemas, or point it at a folder laid out like watchkeeper/schemas/"
            )
        self._by_name: dict[str, list[SchemaVersion]] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for type_path in sorted(p for p in self.root.iterdir() if p.is_dir()):
            versions = []
            for file in type_path.iterdir():
                match = _VERSION_FILE.match(file.name)
                if match:
                    versions.append(load_version(file, type_path.name, int(match.group(1))))
            if not versions:
                continue
            versions.sort(key=lambda v: v.version)
            names = {v.name for v in versions}
            if len(names) != 1:
                raise ValueError(f"{type_path}: versions disagree on the record name: {names}")
            self._by_name[versions[0].name] = versions
            for v in versions:
                clash = self._by_fingerprint.get(v.fingerprint)
                if clash is not None:
                    raise ValueError(f"{v.path} has the same fingerprint as {clash.path}")
                self._by_fingerprint[v.fingerprint] = v

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def versions(self, name: str) -> list[SchemaVersion]:
        try:
            return list(self._by_name[name])
        except KeyError:
            raise KeyError(f"no schema named {name!r}; known: {', '.join(self.names())}") from None

    def latest(self, name: str) -> SchemaVersion:
        return self.versions(name)[-1]

    def __iter__(self) -> Iterator[SchemaVersion]:
        for versions in self._by_name.values():
            yield from versions

    def examples(self, name: str) -> dict[str, dict[str, Any]]:
        """The golden payloads of a type, by file stem."""
        folder = self.root / self.latest(name).type_dir / "examples"
        return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}

    def lock_entries(self) -> dict[str, str]:
        """``<type>/v<N>`` -> fingerprint hex, as fingerprints.lock records them."""
        return {f"{v.type_dir}/v{v.version}": v.fingerprint.hex() for v in self}

    def read_lock(self) -> dict[str, str]:
        path = self.root / LOCK_FILE
        if not path.exists():
            return {}
        entries = {}
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, value = line.split()
                entries[key] = value
        return entries

    def write_lock(self) -> Path:
        path = self.root / LOCK_FILE
        lines = [
            "# Fingerprints (CRC-64-AVRO, little-endian hex) of every published schema version.",
            "# A published version is never edited: add v<N+1>.avsc instead.",
            "# `watchkeeper schemas lock` appends new versions; `schemas check` verifies.",
        ]
        lines += [f"{k} {v}" for k, v in sorted(self.lock_entries().items())]
        path.write_text("\n".join(lines) + "\n")
        return path
