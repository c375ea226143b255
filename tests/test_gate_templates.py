"""The CI templates in deploy/ci parse, chain the five stages in order, and every
``watchkeeper gate`` command in them parses with the CLI's own parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from watchkeeper.cli import build_parser

CI = Path(__file__).resolve().parents[1] / "deploy" / "ci"
GATES = {"validate", "staging", "rollout", "watch"}


def _scripts(doc: dict, template: str) -> dict[str, list[str]]:
    """Job name -> its shell lines."""
    if template == "github-actions.yml":
        return {name: [s["run"] for s in job["steps"] if "run" in s]
                for name, job in doc["jobs"].items()}  # fmt: skip
    return {name: job["script"] for name, job in doc.items() if isinstance(job, dict)
            and "script" in job}  # fmt: skip


def _argv(line: str) -> list[str]:
    line = re.sub(r"\$\{\{[^}]*\}\}", "x", line)  # GitHub expressions
    line = re.sub(r"\$[A-Z_]+", "x", line).split("  #")[0]
    return shlex.split(line)[1:]  # without "watchkeeper"


def _gate_commands(scripts: dict[str, list[str]]) -> dict[str, list[str]]:
    found = {}
    for job, lines in scripts.items():
        for line in lines:
            if line.startswith("watchkeeper gate "):
                argv = _argv(line)
                found[argv[1]] = [job, *argv]
    return found


@pytest.mark.parametrize("template", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_template_chains_every_gate_and_each_command_parses(template) -> None:
    doc = yaml.safe_load((CI / template).read_text())
    scripts = _scripts(doc, template)
    commands = _gate_commands(scripts)
    assert set(commands) == GATES
    parser = build_parser()
    for gate, (job, *argv) in commands.items():
        args = parser.parse_args(argv)  # an unknown option exits 2 here: the test fails
        assert args.gate == gate, job
    if template == "gitlab-ci.yml":
        assert doc["stages"] == ["commit", "training", "staging", "production", "post-deploy"]
        stage_of = {job: doc[job]["stage"] for job in scripts}
        assert [stage_of[commands[g][0]] for g in ("validate", "staging", "rollout", "watch")] == [
            "training", "staging", "production", "post-deploy"]  # fmt: skip
        assert stage_of["unit-tests"] == "commit"
    else:
        jobs = doc["jobs"]
        chain = ["unit-tests", "validate", "staging", "rollout", "monitor"]
        assert list(jobs) == chain
        assert [jobs[j].get("needs") for j in chain] == [None, *chain[:-1]]
        assert [commands[g][0] for g in ("validate", "staging", "rollout", "watch")] == chain[1:]
