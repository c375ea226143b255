"""A launcher from the policy's ``launcher`` section.

::

    launcher: {kind: local, command: [python, -m, loadtest.retrain_job], timeout: 1800,
               env: {WK_RETRAIN_MAX_EVENTS: "5000"}}
    launcher: {kind: airflow, url: http://airflow:8080, dag_id: retrain_fraud,
               token_file: /run/secrets/airflow, timeout: 10}
    launcher: {kind: github, repo: acme/models, workflow: retrain.yml, ref: main,
               token_file: /run/secrets/gh}
    launcher: {kind: kubeflow, url: http://kfp:8888, pipeline_id: ..., pipeline_version_id: ...}
    launcher: {kind: generic, url: https://ci.internal/retrain, status_url: ..., cancel_url: ...}

>>> build({"kind": "airflow", "url": "http://af:8080", "dag_id": "d"}, "/tmp/x").kind
'airflow'
>>> build({"kind": "local", "command": "train.sh"}, "/tmp/x")
Traceback (most recent call last):
...
ValueError: launcher.command must be a list of strings (argv), got 'train.sh'
>>> build({"kind": "airflow", "url": "http://af:8080"}, "/tmp/x")
Traceback (most recent call last):
...
ValueError: launcher (airflow): missing dag_id
>>> build({"kind": "jenkins"}, "/tmp/x")
Traceback (most recent call last):
...
ValueError: launcher.kind must be one of local, airflow, github, kubeflow, generic, got 'jenkins'
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .base import Launcher
from .local import LocalLauncher
from .templates import TEMPLATES
from .webhook import WebhookLauncher

KINDS = ("local", *TEMPLATES)


def _number(spec: dict[str, Any], key: str, default: float | None) -> float | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"launcher.{key} must be a positive number of seconds, got {value!r}")
    return float(value)


def build(spec: dict[str, Any], state_dir: str | Path) -> Launcher:
    if not isinstance(spec, dict):
        raise ValueError(f"launcher must be a mapping, got {spec!r}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"launcher.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "local":
        unknown = set(spec) - {"kind", "command", "timeout", "grace", "env"}
        if unknown:
            raise ValueError(f"launcher (local): unknown keys {sorted(unknown)}")
        command = spec.get("command")
        if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
            raise ValueError(f"launcher.command must be a list of strings (argv), got {command!r}")
        env = spec.get("env") or {}
        if not isinstance(env, dict):
            raise ValueError(f"launcher.env must be a mapping, got {env!r}")
        return LocalLauncher(
            command,
            state_dir,
            timeout_s=_number(spec, "timeout", 3600.0),
            grace_s=_number(spec, "grace", 10.0) or 10.0,
            env={str(k): str(v) for k, v in env.items()},
        )
    template_type = TEMPLATES[kind]
    fields = {f.name for f in dataclasses.fields(template_type)} - {"name"}
    unknown = set(spec) - fields - {"kind", "token_file", "timeout"}
    if unknown:
        raise ValueError(f"launcher ({kind}): unknown keys {sorted(unknown)}")
    required = {
        f.name
        for f in dataclasses.fields(template_type)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    for key in sorted(required):
        if not spec.get(key):
            raise ValueError(f"launcher ({kind}): missing {key}")
    template = template_type(**{k: v for k, v in spec.items() if k in fields})
    return WebhookLauncher(
        template,
        state_dir,
        token_file=spec.get("token_file"),
        timeout_s=_number(spec, "timeout", 10.0) or 10.0,
    )
