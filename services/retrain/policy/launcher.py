"""A policy's ``launcher``: a local command or a webhook to an orchestrator (Airflow,
GitHub Actions, Kubeflow Pipelines, or a generic JSON body), checked for what each needs.

>>> from watchkeeper.yamlconf import load_text
>>> parse(load_text("{kind: webhook, template: airflow, url: 'http://airflow:8080', "
...                 "dag_id: train_fraud}")).dag_id
'train_fraud'
>>> parse(load_text("{kind: webhook, template: github, repo: acme/fraud, workflow: train.yml}"))
Traceback (most recent call last):
...
watchkeeper.yamlconf.ConfigFileError: <string>:1: launcher (github): needs token_file
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchkeeper.yamlconf import Mapping

from ._read import keys, mapping, placeholders, seconds, text

WEBHOOK_TEMPLATES = ("airflow", "github", "kubeflow", "generic")
# What a launcher fills into a generic webhook body ({name}).
PLACEHOLDERS = ("model", "version", "run_id", "reasons", "callback_url", "datasets")


@dataclass(frozen=True)
class LocalLauncher:
    """A subprocess per run; ``timeout_s`` is the run's deadline."""

    command: tuple[str, ...]
    timeout_s: float = 3600.0
    env: dict[str, str] = field(default_factory=dict)
    kind: str = "local"


@dataclass(frozen=True)
class WebhookLauncher:
    """One HTTP request per run to an orchestrator. ``url`` is the API's base for airflow
    and kubeflow (the template adds the path), https://api.github.com by default for
    github, the whole URL for generic. ``timeout_s`` is the run's deadline."""

    template: str
    url: str
    token_file: str | None = None
    timeout_s: float = 3600.0
    dag_id: str | None = None  # airflow
    repo: str | None = None  # github: owner/name
    workflow: str | None = None  # github: the workflow file name or id
    ref: str = "main"  # github
    pipeline_id: str | None = None  # kubeflow
    experiment_id: str | None = None  # kubeflow
    body: Any = None  # generic: JSON with {placeholders}
    kind: str = "webhook"


_WEBHOOK_NEEDS = {
    "airflow": ("url", "dag_id"),
    "github": ("repo", "workflow", "token_file"),
    "kubeflow": ("url", "pipeline_id"),
    "generic": ("url", "body"),
}
_WEBHOOK_FIELDS = {
    "airflow": ("dag_id",),
    "github": ("repo", "workflow", "ref"),
    "kubeflow": ("pipeline_id", "experiment_id"),
    "generic": ("body",),
}


def parse(doc: Mapping) -> LocalLauncher | WebhookLauncher:
    kind = doc.get("kind")
    if kind == "local":
        keys(doc, ("kind", "command", "timeout_s", "env"), "launcher: ")
        command = doc.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(a, str) and a for a in command)
        ):
            raise doc.error("command" if "command" in doc else None,
                            "launcher.command must be a non-empty list of arguments "
                            "(argv, e.g. [python, train.py])")  # fmt: skip
        env = mapping(doc, "env", "launcher.") if "env" in doc else Mapping()
        for key, value in env.items():
            if isinstance(value, Mapping | list) or value is None:
                raise env.error(key, f"launcher.env.{key} must be a string")
        timeout = seconds(doc, "timeout_s", "launcher.", True) if "timeout_s" in doc else 3600.0
        return LocalLauncher(tuple(command), timeout, {k: str(v) for k, v in env.items()})
    if kind != "webhook":
        raise doc.error("kind" if "kind" in doc else None,
                        f"launcher.kind must be local or webhook, not {kind!r}")  # fmt: skip
    template = doc.get("template")
    if template not in WEBHOOK_TEMPLATES:
        raise doc.error("template" if "template" in doc else None,
                        f"launcher.template must be one of {', '.join(WEBHOOK_TEMPLATES)}, "
                        f"not {template!r}")  # fmt: skip
    where = f"launcher ({template}): "
    keys(doc, ("kind", "template", "url", "token_file", "timeout_s",
                *_WEBHOOK_FIELDS[template]), where)  # fmt: skip
    missing = [k for k in _WEBHOOK_NEEDS[template] if k not in doc]
    if missing:
        raise doc.error(None, f"{where}needs {', '.join(missing)}")
    given: dict[str, Any] = {}
    for key in ("url", "token_file", "dag_id", "repo", "workflow", "ref", "pipeline_id",
                "experiment_id"):  # fmt: skip
        if key in doc:
            given[key] = text(doc, key, "launcher.")
    url = given.setdefault("url", "https://api.github.com")
    if not url.startswith(("http://", "https://")):
        raise doc.error("url", f"launcher.url must start with http:// or https://, not {url!r}")
    if template == "github" and given["repo"].count("/") != 1:
        raise doc.error("repo", f"launcher.repo must be owner/name, not {given['repo']!r}")
    if template == "generic":
        given["body"] = _body(doc, doc["body"])
    if "timeout_s" in doc:
        given["timeout_s"] = seconds(doc, "timeout_s", "launcher.", True)
    return WebhookLauncher(template=template, **given)


def _body(doc: Mapping, value: Any) -> Any:
    """A plain copy of a generic webhook's body, its strings' placeholders checked."""
    if isinstance(value, dict):
        return {k: _body(value if isinstance(value, Mapping) else doc, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_body(doc, v) for v in value]
    if isinstance(value, str):
        problem = placeholders(value, PLACEHOLDERS)
        if problem:
            raise doc.error(None, f"launcher.body: {value!r}: {problem}")
    return value
