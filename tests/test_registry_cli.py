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
def cli(start_service, prefix, tmp_path, kafka_bootstrap):
    registry = start_registry(start_service, prefix, tmp_path)

    def run(*args: str, who: str = "admin") -> subprocess.CompletedProcess:
        env = {**os.environ, "WK_REGISTRY_URL": registry.url, "WK_REGISTRY_TOKEN": TOKENS[who],
               "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "WK_TOPIC_PREFIX": prefix}  # fmt: skip
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


def test_a_dataset_from_a_topic_range_is_hashed_record_by_record(
    cli, kafka_settings, kafka_bootstrap, prefix
) -> None:
    import hashlib
    import time

    from watchkeeper.runtime import compacted
    from watchkeeper.sdk import Emitter

    start = int(time.time() * 1000) - 1
    sdk = Emitter(kafka_settings, prefix=prefix, client_id="it-dataset-range")
    for i in range(50):
        sdk.prediction(model="fraud", version="1", latency_ms=float(i), label="ok")
    assert sdk.close(10) == 0
    end = int(time.time() * 1000) + 1

    def expected() -> tuple[str, int]:
        records = sorted(
            (r.partition, r.offset, r.value)
            for r in compacted.read(kafka_settings, prefix + "predictions", 30)
        )
        digest = hashlib.sha256()
        for _, _, value in records:
            digest.update(hashlib.sha256(value).digest())
        return "sha256:" + digest.hexdigest(), len(records)

    def register(version: str, until: int) -> dict:
        env_args = ("--from", str(start), "--to", str(until))
        return ok(cli("registry", "datasets", "register", "preds", version, "--topic",
                      "predictions", *env_args))  # fmt: skip

    register("1", end)
    first = ok(cli("registry", "datasets", "get", "preds", "1"))
    assert (first["content_hash"], first["row_count"]) == expected()
    assert first["row_count"] == 50
    assert first["time_range"] == {"start_ms": start, "end_ms": end}
    assert first["uri"].startswith(f"kafka://{kafka_bootstrap}/{prefix}predictions?")
    sdk = Emitter(kafka_settings, prefix=prefix, client_id="it-dataset-range-2")
    sdk.prediction(model="fraud", version="1", latency_ms=1.0, label="late")
    assert sdk.close(10) == 0
    later = int(time.time() * 1000) + 1
    register("2", later)
    second = ok(cli("registry", "datasets", "get", "preds", "2"))
    assert second["row_count"] == 51
    assert second["content_hash"] != first["content_hash"]
    assert (second["content_hash"], second["row_count"]) == expected()
    # The first range, read again, still hashes as before.
    register("3", end)
    assert (
        ok(cli("registry", "datasets", "get", "preds", "3"))["content_hash"]
        == (first["content_hash"])
    )
