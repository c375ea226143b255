"""The schema check run by ``make lint``, the tests and ``watchkeeper schemas check``.

It fails when:

* a published version (one listed in ``fingerprints.lock``) was edited in place;
* a version is not listed in the lock (run ``watchkeeper schemas lock`` once it is final);
* a version cannot read data written by every version before it (Avro resolution rules);
* a golden example does not encode with the newest version, or stops round-tripping.
"""

from __future__ import annotations

from pathlib import Path

from ._codec import Codec
from ._compat import incompatibilities
from ._registry import SchemaRegistry


def check(registry: SchemaRegistry | None = None, require_lock: bool = True) -> list[str]:
    registry = registry or SchemaRegistry()
    problems: list[str] = []
    locked = registry.read_lock()
    for key, fingerprint in registry.lock_entries().items():
        if key in locked and locked[key] != fingerprint:
            problems.append(
                f"{key} was edited after it was published (fingerprint {locked[key]} -> "
                f"{fingerprint}): restore it and add the change as a new version"
            )
        elif key not in locked and require_lock:
            problems.append(f"{key} is not in fingerprints.lock: run `watchkeeper schemas lock`")
    for key in sorted(set(locked) - set(registry.lock_entries())):
        problems.append(f"{key} is in fingerprints.lock but its file is gone: old data needs it")

    for name in registry.names():
        versions = registry.versions(name)
        for i, newer in enumerate(versions):
            for older in versions[:i]:
                for reason in incompatibilities(writer=older.raw, reader=newer.raw):
                    problems.append(f"{newer.label} cannot read {older.label} data: {reason}")

    codec = Codec(registry)
    for name in registry.names():
        for stem, example in registry.examples(name).items():
            try:
                decoded = codec.decode(codec.encode(name, example))
            except ValueError as exc:
                problems.append(f"{name} example {stem}: {exc}")
                continue
            changed = [k for k, v in example.items() if decoded.record.get(k) != v]
            if changed:
                problems.append(f"{name} example {stem}: {changed} change in a round trip")
    return problems


def lock(registry: SchemaRegistry | None = None) -> Path:
    return (registry or SchemaRegistry()).write_lock()
