"""The five CI stages of deploy/ci, run locally through the CLI against the real registry
and broker: commit (unit tests) -> validate -> staging -> rollout -> watch; then the
alias gate lets the version become champion on the strength of what they recorded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.gate_support import Running, run_cli, write_holdout
from tests.registry_support import TOKENS, client, start_registry
from tests.rollout_support import Traffic, start_rollout

pytestmark = pytest.mark.kafka


def test_the_release_chain_through_the_cli(
    start_service, prefix, tmp_path, kafka_bootstrap, kafka_settings
):
    registry = start_registry(start_service, prefix, tmp_path)
    rc = client(registry, "admin")
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "WK_TOPIC_PREFIX": prefix,
           "WK_REGISTRY_URL": registry.url, "WK_REGISTRY_TOKEN": TOKENS["writer"]}  # fmt: skip

    def gate(*args: str):
        done = run_cli("gate", *args, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    # commit -> unit tests (the templates run the project's pytest directly)
    unit = tmp_path / "unit" / "test_model.py"
    unit.parent.mkdir()
    unit.write_text("def test_scores_are_probabilities():\n    assert 0 <= 0.9 <= 1\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(unit)], cwd=unit.parent, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout

    # training -> performance validation (training registered the version)
    rc.create_model("fraud")
    rc.register_version("fraud", "1")
    rc.record_validation("fraud", "1", True, {"auc": 0.91}, "seed")
    rc.set_alias("fraud", "champion", "1")
    holdout = write_holdout(tmp_path / "holdout.csv")
    rc.register_version("fraud", "2")
    done = gate("validate", "--model", "fraud", "--candidate", "2", "--champion-alias", "champion",
         "--holdout", str(holdout), "--label-column", "y", "--candidate-scores", "cand",
         "--champion-scores", "champ", "--min", "auc=0.95", "--min-delta", "auc=0.05",
         "--sensitive", "group", "--max-gap", "tpr=0.1")  # fmt: skip
    assert "0.99 vs 0.91 of champion 1" in done.stdout  # the alias named version 1

    # staging -> integration tests against the staged version
    check = "import os, sys; sys.exit(0 if os.environ['WK_VERSION'] == '2' else 1)"
    gate("staging", "--model", "fraud", "--version", "2", "--", sys.executable, "-c", check)

    # production -> progressive rollout
    # (the services the SDKs report to)
    rollout = start_rollout(start_service, prefix, registry)
    spec = tmp_path / "rollout.yaml"
    spec.write_text(
        'model: fraud\nstrategy: canary\nbaseline: "1"\ncandidate: "2"\nsteps: [20, 100]\n'
        "checks: [{metric: error_rate, margin: 0.02}]\n"
        "analysis: {min_samples: 300, deadline_s: 120}\n"
    )
    with Traffic(kafka_settings, prefix, "fraud", {"1": 0.01, "2": 0.01}):
        done = gate("rollout", "--rollout-url", rollout.url, "--spec", str(spec),
                    "--token", TOKENS["writer"], "--timeout", "300")  # fmt: skip
    assert "promoted" in done.stdout
    # The promotion moved the alias (through the registry's gate, on what was recorded).
    assert rc.get_alias("fraud", "champion")["version"]["version"] == "2"

    # post-deploy monitoring: no alert for fraud 2 fires while the gate watches
    watching = Running("gate", "watch", "--model", "fraud", "--version", "2",
                       "--seconds", "3", env=env)  # fmt: skip
    code, out, err = watching.finish()
    assert code == 0, out + err

    validations = rc.get_version("fraud", "2")["validations"]
    expected = ["gate:validate", "gate:staging", "rollout:fraud-1", "gate:rollout", "gate:watch"]
    assert [(v["validator"], v["passed"]) for v in validations] == [(e, True) for e in expected]
    assert validations[0]["metrics"]["auc"] == pytest.approx(0.99)
    assert rc.get_alias("fraud", "champion")["version"]["version"] == "2"
    rc.close()
