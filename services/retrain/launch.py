"""The policy's launcher section as a launcher (``launchers.build``), and the context a
run is launched with."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .callback_token import callback_token
from .launchers import Launcher, RunContext, build
from .launchers.templates import TEMPLATES
from .policy import LocalLauncher, WebhookLauncher

TEMPLATE_FIELDS = ("url", "dag_id", "repo", "workflow", "ref", "pipeline_id", "experiment_id")


def launcher_for(spec: LocalLauncher | WebhookLauncher, state_dir: str | Path) -> Launcher:
    if isinstance(spec, LocalLauncher):
        return build({"kind": "local", "command": list(spec.command), "timeout": spec.timeout_s,
                      "env": dict(spec.env)}, state_dir)  # fmt: skip
    takes = {f.name for f in dataclasses.fields(TEMPLATES[spec.template])}
    doc: dict[str, Any] = {"kind": spec.template, "token_file": spec.token_file}
    doc.update({f: getattr(spec, f) for f in TEMPLATE_FIELDS if f in takes and getattr(spec, f)})
    return build({k: v for k, v in doc.items() if v is not None}, state_dir)


def context(run: dict[str, Any], public_url: str, secret: str) -> RunContext:
    datasets = [d for t in run["triggers"] for d in t.get("evidence", {}).get("datasets", [])]
    return RunContext(
        run_id=run["id"],
        model=run["model"],
        version=run["version"],
        reasons=[{k: t[k] for k in ("kind", "reason", "dedup_key")} | {"evidence": t["evidence"]}
                 for t in run["triggers"]],
        datasets=datasets,
        callback_url=f"{public_url.rstrip('/')}/api/v1/runs/{run['id']}/callback",
        callback_token=callback_token(secret, run["id"]),
    )  # fmt: skip
