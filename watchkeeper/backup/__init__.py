"""Backups of a watchkeeper installation and restores of them (``watchkeeper backup`` /
``watchkeeper restore``): every state topic, the configuration files and, if asked, a
time range of the data topics, in one zstd-compressed, checksummed, versioned archive.

* :func:`create` ``(settings, path, *, prefix, data_since_ms=None, data_until_ms=None,
  config_dir=None, progress=False) -> Manifest``
* :func:`restore` ``(settings, path, *, prefix=None, at_ms=None, force=False,
  progress=False, config_out=None) -> RestoreReport``
* :func:`verify` ``(path) -> Manifest`` and :func:`read_manifest` ``(path) -> Manifest``
* :class:`ArchiveError` (corrupt, truncated, a newer format), :class:`TargetNotEmpty`,
  :class:`RestoreError`

Needs ``pip install 'watchkeeper[services]'`` (zstandard, tqdm). The archive format and
its checks import no Kafka client (``container``, ``records``,
``manifest``, ``checks``); ``creator`` and ``restorer`` (behind ``create`` and ``restore``) do.

>>> from watchkeeper import backup
>>> backup.FORMAT_VERSION
'1.0'
"""

from __future__ import annotations

from typing import Any

from .errors import ArchiveError, RestoreError, TargetNotEmpty
from .manifest import FORMAT_VERSION, Manifest

__all__ = [
    "FORMAT_VERSION",
    "ArchiveError",
    "Manifest",
    "RestoreError",
    "RestoreReport",
    "TargetNotEmpty",
    "create",
    "read_manifest",
    "restore",
    "verify",
]


def __getattr__(name: str) -> Any:
    # Loaded on first use: ``watchkeeper --help`` imports this package, and zstandard and
    # tqdm come with the ``services`` extra only.
    if name in ("read_manifest", "verify"):
        from . import checks as module

        return getattr(module, name)
    if name == "create":
        from .creator import create

        return create
    if name in ("restore", "RestoreReport"):
        from . import restorer as module

        return getattr(module, name)
    raise AttributeError(name)
