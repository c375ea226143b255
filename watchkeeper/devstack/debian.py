"""Debian's builds of the Prometheus tools (``prometheus``, ``promtool``, ``amtool``,
``alertmanager``) for the interop tests and benchmarks, unpacked into the cache, never
installed system-wide.

``apt-get download`` fetches the pinned version's ``.deb`` (no root needed; the package
lists must be there: when the download fails for want of them and we are root, ``apt-get
update`` runs once), ``dpkg-deb -x`` unpacks it into ``.cache/debian/<package>-<version>``,
and a stamp makes the step a no-op after that. The binaries are static Go programs: they run
from there as they are.

``python -m watchkeeper.devstack.debian install`` unpacks every package of ``PACKAGES``
(``make test`` runs it before pytest, so no test's timeout covers a download).

>>> binary("prometheus", "promtool").name
'promtool'
>>> unpacked("prometheus-alertmanager").name
'prometheus-alertmanager-0.25.0-1+b4'
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .._paths import cache_dir

# Debian 12 (bookworm): the versions the tests were written against.
PACKAGES = {
    "prometheus": "2.42.0+ds-5+deb12u1",
    "prometheus-alertmanager": "0.25.0-1+b4",
}
TIMEOUT_S = 600.0


class DebianSetupError(RuntimeError):
    """A package could not be fetched or unpacked (the message says why)."""


def unpacked(package: str) -> Path:
    return cache_dir() / "debian" / f"{package}-{PACKAGES[package]}"


def binary(package: str, name: str) -> Path:
    return unpacked(package) / "usr" / "bin" / name


def install(package: str, quiet: bool = True) -> Path:
    """The folder ``package`` is unpacked in, fetching and unpacking it first if needed."""
    target = unpacked(package)
    stamp = target / ".unpacked"
    if stamp.exists():
        return target
    version = PACKAGES[package]
    if not quiet:
        print(f"unpacking Debian's {package}={version} into {target} (once)")
    with tempfile.TemporaryDirectory(prefix="wk-deb-") as tmp:
        deb = _download(package, version, Path(tmp))
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        _run(["dpkg-deb", "-x", str(deb), str(target)], f"unpacking {deb.name}")
    stamp.write_text(version + "\n")
    return target


def _download(package: str, version: str, into: Path) -> Path:
    spec = f"{package}={version}"
    try:
        _run(["apt-get", "download", spec], f"apt-get download {spec}", cwd=into)
    except DebianSetupError:
        if os.geteuid() != 0:
            raise
        # A clean machine may have no package lists yet.
        _run(["apt-get", "update", "-qq"], "apt-get update")
        _run(["apt-get", "download", spec], f"apt-get download {spec}", cwd=into)
    found = sorted(into.glob(f"{package}_*.deb"))
    if not found:
        raise DebianSetupError(f"apt-get download {spec} left no .deb in {into}")
    return found[0]


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    if shutil.which(command[0]) is None:
        raise DebianSetupError(f"{what}: {command[0]} is not on this machine (Debian/Ubuntu only)")
    try:
        result = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise DebianSetupError(f"{what}: no answer within {TIMEOUT_S:.0f} s") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise DebianSetupError(f"{what} failed (exit {result.returncode}): {' '.join(tail)}")


def main(argv: list[str]) -> int:
    if argv[:1] != ["install"]:
        print("usage: python -m watchkeeper.devstack.debian install [PACKAGE ...]")
        return 2
    try:
        for package in argv[1:] or list(PACKAGES):
            print(install(package, quiet=False))
    except (DebianSetupError, KeyError) as exc:
        print(f"debian: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
