"""Where a reference's training data is, asked of the registry: ``MODEL:VERSION`` (or
``MODEL@ALIAS``) → the version's registered training datasets → their files, each
checked against the content hash the dataset was registered with.

Only files this process can read are taken (a path or a ``file://`` URI); for data in an
object store, fetch it first and pass ``--file``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from watchkeeper.clients import ApiError, RegistryClient
from watchkeeper.clients.dataset_hash import file_digest


class RegistrySourceError(ValueError):
    """The registry cannot say where the training data is, or the file is not that data."""


@dataclass(frozen=True)
class TrainingFile:
    path: Path
    dataset: str  # name:version
    uri: str


def parse_target(text: str) -> tuple[str, str | None, str | None]:
    """(model, version, alias) of ``fraud:3.2.0`` or ``fraud@champion``.

    >>> parse_target("fraud:3.2.0"), parse_target("fraud@champion")
    (('fraud', '3.2.0', None), ('fraud', None, 'champion'))
    >>> parse_target("fraud")
    Traceback (most recent call last):
    ...
    services.drift.registry_source.RegistrySourceError: --from-registry takes MODEL:VERSION \
or MODEL@ALIAS, not 'fraud'
    """
    if "@" in text:
        model, _, alias = text.partition("@")
        if model and alias:
            return model, None, alias
    elif ":" in text:
        model, _, version = text.partition(":")
        if model and version:
            return model, version, None
    raise RegistrySourceError(f"--from-registry takes MODEL:VERSION or MODEL@ALIAS, not {text!r}")


def local_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else uri)
    raise RegistrySourceError(
        f"{uri}: only local paths and file:// URIs are read here; fetch it and pass --file"
    )


def training_files(client: RegistryClient, target: str) -> tuple[str, str, list[TrainingFile]]:
    """(model, version, files) for ``target``, every file's hash checked."""
    model, version, alias = parse_target(target)
    try:
        if alias is not None:
            version = client.get_alias(model, alias)["version"]["version"]
        assert version is not None
        found = client.get_version(model, version)
        datasets = found.get("training_datasets") or []
        if not datasets:
            raise RegistrySourceError(f"{model}:{version} has no registered training dataset")
        files = []
        for ref in datasets:
            dataset = client.get_dataset(ref["name"], ref["version"])
            label = f"{ref['name']}:{ref['version']}"
            if not dataset.get("uri"):
                raise RegistrySourceError(f"dataset {label} has no uri")
            path = local_path(dataset["uri"])
            if not path.is_file():
                raise RegistrySourceError(f"dataset {label}: {path} is not a readable file")
            want = (dataset.get("content_hash") or "").removeprefix("sha256:")
            if want and file_digest(path).removeprefix("sha256:") != want:
                raise RegistrySourceError(
                    f"dataset {label}: {path} does not match its registered sha256 {want[:12]}…"
                )
            files.append(TrainingFile(path, label, dataset["uri"]))
    except ApiError as exc:
        raise RegistrySourceError(f"the registry refused: {exc.reason}") from exc
    return model, version, files
