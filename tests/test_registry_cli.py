"""``watchkeeper registry`` and ``watchkeeper lineage`` against the running registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.registry_support import TOKENS, start_registry

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(start_service, prefix, tmp_path):
    registry = start_registry(start_service, prefix, tmp_path)

    def run(*args: str, who: str = "admin") -> subprocess.CompletedProcess:
        env = {**os.environ, "WK_REGISTRY_URL": registry.url, "WK_REGISTRY_TOKEN": TOKENS[who]}
        return subprocess.run(
            [sys.executable, "-m", "watchkeeper", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    return run


def ok(done: subprocess.CompletedProcess):
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_model_from_dataset_to_champion_by_the_command_line(cli, tmp_path) -> None:
    data = tmp_path / "tx.csv"
    data.write_text("amount\n1\n2\n")
    ok(cli("registry", "datasets", "register", "tx", "1", "--file", str(data),
           "--rows", "2", "--source", "s3://lake/raw/tx"))  # fmt: skip
    dataset = ok(cli("registry", "datasets", "get", "tx", "1"))
    assert dataset["uri"] == data.resolve().as_uri()
    assert dataset["content_hash"].startswith("sha256:") and dataset["row_count"] == 2
    ok(cli("registry", "models", "create", "fraud", "--owner-team", "risk", "--tag", "tier=1"))
    ok(cli("registry", "versions", "register", "fraud", "1", "--dataset", "tx:1",
           "--metric", "auc=0.9", "--param", "depth=4", "--code-commit", "abc"))  # fmt: skip
    refused = cli("registry", "alias", "set", "fraud", "champion", "1")
    assert refused.returncode == 1
    assert "409 fraud version 1 has no passing validation" in refused.stderr
    ok(cli("registry", "validate", "fraud", "1", "--passed", "--metric", "auc=0.91"))
    ok(cli("registry", "alias", "set", "fraud", "champion", "1", "--reason", "first"))
    assert ok(cli("registry", "models", "get", "fraud"))["aliases"] == {"champion": "1"}
    listed = ok(cli("registry", "versions", "list", "fraud", "--metric", "auc>=0.9"))
    assert [v["version"] for v in listed["versions"]] == ["1"]
    history = ok(cli("registry", "history", "model", "fraud"))["events"]
    assert [e["type"] for e in history] == ["model.created", "alias.set"]
    impact = ok(cli("lineage", "impact", "dataset:s3://lake:raw/tx", who="reader"))
    assert impact["versions"] == ["version:fraud:1"]
    assert impact["aliases"] == ["alias:fraud@champion"]


def test_usage_errors_exit_2_and_refusals_exit_1(cli) -> None:
    bad = cli("registry", "versions", "register", "fraud", "1", "--metric", "auc")
    assert bad.returncode == 2 and "expected key=value" in bad.stderr
    bad = cli("registry", "versions", "register", "fraud", "1", "--dataset", "tx")
    assert bad.returncode == 2 and "expected NAME:VERSION" in bad.stderr
    denied = cli("registry", "models", "create", "x", who="reader")
    assert denied.returncode == 1 and "403 this token lacks the 'write' scope" in denied.stderr
    missing = cli("lineage", "impact", "dataset:nope:x", who="reader")
    assert missing.returncode == 1 and "404" in missing.stderr
    assert "Traceback" not in bad.stderr + denied.stderr + missing.stderr
