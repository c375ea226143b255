"""``python -m services.drift reference --from-registry``: the reference built from the
version's registered training data, through the running registry."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.drift.profile import TOPIC
from services.drift.reference_store import read_all
from tests.registry_support import TOKENS, client, start_registry

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[1]


def reference(registry, kafka_bootstrap: str, prefix: str, *args: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WK_")}
    env |= {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "WK_TOPIC_PREFIX": prefix,
            "WK_REGISTRY_URL": registry.url, "WK_REGISTRY_TOKEN": TOKENS["reader"]}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "services.drift", "reference", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def registry(start_service, prefix, tmp_path):
    return start_registry(start_service, prefix, tmp_path)


def test_a_reference_from_the_registered_training_data(
    registry, kafka_bootstrap, kafka_settings, prefix, tmp_path
) -> None:
    data = tmp_path / "train.csv"
    data.write_text("amount,country\n" + "".join(f"{i}.5,{'FR' if i % 3 else 'DE'}\n"
                                                 for i in range(300)))  # fmt: skip
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    rc = client(registry)
    rc.register_dataset("tx", "7", uri=data.as_uri(), content_hash=f"sha256:{digest}")
    rc.register_dataset("bad", "1", uri=data.as_uri(), content_hash="sha256:" + "0" * 64)
    rc.register_dataset("remote", "1", uri="s3://bucket/train.parquet")
    rc.create_model("fraud")
    rc.register_version("fraud", "3.2.0", training_datasets=[{"name": "tx", "version": "7"}])
    rc.register_version("fraud", "3.3.0", training_datasets=[{"name": "bad", "version": "1"}])
    rc.register_version("fraud", "3.4.0", training_datasets=[{"name": "remote", "version": "1"}])

    done = reference(registry, kafka_bootstrap, prefix, "--from-registry", "fraud:3.2.0")
    assert done.returncode == 0, done.stderr
    assert "set reference of fraud 3.2.0: 300 rows, 1 numeric, 1 categorical" in done.stdout
    found = read_all(kafka_settings, prefix + TOPIC)[("fraud", "3.2.0", None)]
    assert found.rows == 300
    assert found.source == f"registry: fraud:3.2.0 trained on tx:7 ({data.as_uri()})"

    for target, reason in [
        ("fraud:3.3.0", "does not match its registered sha256"),
        ("fraud:3.4.0", "only local paths and file:// URIs"),
        ("fraud:9.9.9", "no version 'fraud:9.9.9'"),
        ("fraud", "takes MODEL:VERSION or MODEL@ALIAS"),
    ]:
        done = reference(registry, kafka_bootstrap, prefix, "--from-registry", target)
        assert done.returncode == 1, (target, done.stdout, done.stderr)
        assert reason in done.stderr, (target, done.stderr)
        assert "Traceback" not in done.stderr
    assert set(read_all(kafka_settings, prefix + TOPIC)) == {("fraud", "3.2.0", None)}
