"""``watchkeeper gate validate|staging|watch`` against the real registry and broker; the
results read back from the registry."""

from __future__ import annotations

import sys

import pytest

from tests.gate_support import (
    Running,
    latest_validation,
    publish_alerts,
    publish_gate,
    run_cli,
    write_holdout,
)
from tests.registry_support import TOKENS, client, start_registry
from watchkeeper.gates.metrics import compute

pytestmark = pytest.mark.kafka


@pytest.fixture
def gate(start_service, prefix, tmp_path, kafka_bootstrap):
    """Run ``watchkeeper gate ...``: results recorded in a fresh registry with fraud 1, 2."""
    registry = start_registry(start_service, prefix, tmp_path)
    rc = client(registry, "admin")
    rc.create_model("fraud")
    for version in ("1", "2"):
        rc.register_version("fraud", version)
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "WK_TOPIC_PREFIX": prefix,
           "WK_REGISTRY_TOKEN": TOKENS["writer"], "WK_REGISTRY_URL": ""}  # fmt: skip

    def run(name: str, *args: str):
        # Before the rest: staging's command takes everything after "--".
        return run_cli("gate", name, "--registry-url", registry.url, *args, env=env)

    run.rc, run.env, run.url = rc, env, registry.url
    yield run
    rc.close()


def validate_args(holdout, candidate="cand", *more: str) -> list[str]:
    return ["validate", "--model", "fraud", "--candidate", "2", "--champion", "1",
            "--holdout", str(holdout), "--label-column", "y",
            "--candidate-scores", candidate, *more]  # fmt: skip


def test_validate_passes_on_deltas_and_records_the_metrics(gate, tmp_path) -> None:
    holdout = write_holdout(tmp_path / "holdout.csv")
    done = gate(*validate_args(holdout, "cand", "--champion-scores", "champ", "--min", "auc=0.95",
                               "--min-delta", "auc=0.05", "--max-delta", "log_loss=0"))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gate:validate fraud version 2: PASS" in done.stdout
    assert "0.99 vs 0.91 of champion 1" in done.stdout
    recorded = latest_validation(gate.rc, "fraud", "2")
    assert (recorded["passed"], recorded["validator"]) == (True, "gate:validate")
    assert recorded["metrics"]["auc"] == pytest.approx(0.99)
    assert recorded["metrics"]["delta_auc"] == pytest.approx(0.08)
    assert recorded["metrics"]["holdout_rows"] == 400
    rows = holdout.read_text().splitlines()[1:]
    expected = compute([int(r.split(",")[0]) for r in rows], [float(r.split(",")[2]) for r in rows])
    assert recorded["metrics"]["log_loss"] == pytest.approx(expected["log_loss"])


def test_validate_fails_when_the_candidate_does_not_beat_the_champion_by_the_delta(
    gate, tmp_path
) -> None:
    holdout = write_holdout(tmp_path / "holdout.csv")
    thresholds = tmp_path / "gates.yaml"
    thresholds.write_text("auc:\n  min: 0.8\n  min_delta: 0.1\n")
    done = gate(*validate_args(holdout, "cand", "--champion-scores", "champ",
                               "--thresholds", str(thresholds)))  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "auc - champion >= 0.1  0.08   FAIL" in done.stdout
    recorded = latest_validation(gate.rc, "fraud", "2")
    assert recorded["passed"] is False
    assert recorded["details"].startswith("auc - champion >= 0.1: 0.08 (0.99 vs 0.91")
    refused = gate.rc  # the alias gate reads that validation
    with pytest.raises(Exception, match="its latest validation failed"):
        refused.set_alias("fraud", "champion", "2")


def test_validate_fails_on_a_fairness_gap(gate, tmp_path) -> None:
    holdout = write_holdout(tmp_path / "holdout.csv")
    fair = gate(*validate_args(holdout, "cand", "--sensitive", "group", "--max-gap", "tpr=0.1",
                               "--min-impact", "0.8"))  # fmt: skip
    assert fair.returncode == 0, fair.stdout + fair.stderr
    unfair = gate(*validate_args(holdout, "unfair", "--sensitive", "group",
                                 "--max-gap", "tpr=0.1"))  # fmt: skip
    assert unfair.returncode == 1, unfair.stdout + unfair.stderr
    assert "tpr gap <= 0.1" in unfair.stdout and "b vs a" in unfair.stdout
    recorded = latest_validation(gate.rc, "fraud", "2")
    assert recorded["passed"] is False
    assert recorded["metrics"]["fairness_tpr"] == pytest.approx(0.4)


def test_validate_needs_the_training_datas_quality_gate_open(
    gate, tmp_path, kafka_settings, prefix
) -> None:
    holdout = write_holdout(tmp_path / "holdout.csv")
    args = validate_args(holdout, "cand", "--min", "auc=0.9", "--quality-gate", "fraud-training")
    unknown = gate(*args)
    assert unknown.returncode == 1 and "unknown: no state on the gates topic yet" in unknown.stdout
    assert gate(*args, "--unknown-gate", "pass").returncode == 0
    publish_gate(kafka_settings, prefix, "fraud-training", "BLOCKED")
    publish_gate(kafka_settings, prefix, "other-training", "UNBLOCKED")
    blocked = gate(*args)
    assert blocked.returncode == 1
    assert "blocked: completeness 0.42 < 0.99 (features.amount missing)" in blocked.stdout
    assert "quality gate fraud-training open" in latest_validation(gate.rc, "fraud", "2")["details"]
    publish_gate(kafka_settings, prefix, "fraud-training", "UNBLOCKED")
    assert gate(*args).returncode == 0
    assert latest_validation(gate.rc, "fraud", "2")["passed"] is True


def test_staging_passes_fails_and_times_out(gate) -> None:
    script = "import os, sys; print(os.environ['WK_MODEL'], os.environ['WK_VERSION']); "
    ok = gate("staging", "--model", "fraud", "--version", "2", "--",
              sys.executable, "-c", script + "sys.exit(0)")  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "    fraud 2" in ok.stdout  # the tail of its output
    recorded = latest_validation(gate.rc, "fraud", "2")
    assert (recorded["passed"], recorded["validator"]) == (True, "gate:staging")
    assert recorded["metrics"]["exit_code"] == 0 and "fraud 2" in recorded["details"]
    script += "print('2 tests failed'); sys.exit(3)"
    failed = gate("staging", "--model", "fraud", "--version", "2", "--",
                  sys.executable, "-c", script)  # fmt: skip
    assert failed.returncode == 1 and "2 tests failed" in failed.stdout
    recorded = latest_validation(gate.rc, "fraud", "2")
    assert recorded["passed"] is False and recorded["metrics"]["exit_code"] == 3
    hangs = "print('started', flush=True); import time; time.sleep(600)"
    hung = gate("staging", "--model", "fraud", "--version", "2", "--timeout", "1", "--",
                sys.executable, "-c", hangs)  # fmt: skip
    assert hung.returncode == 1 and "finished in time  > 1 s" in hung.stdout
    assert "started" in hung.stdout
    assert latest_validation(gate.rc, "fraud", "2")["metrics"]["exit_code"] == -1


def watch(gate, seconds: str) -> Running:
    args = ["gate", "watch", "--model", "fraud", "--version", "2", "--seconds", seconds,
            "--registry-url", gate.url]  # fmt: skip
    running = Running(*args, env=gate.env)
    running.wait_for_line("watching ")
    return running


def test_watch_fails_on_a_firing_alert_for_the_version(gate, kafka_settings, prefix) -> None:
    running = watch(gate, "300")  # ends at the alert, long before that
    publish_alerts(kafka_settings, prefix, ("HighLatency", "fraud", "1", "FIRING"),
                   ("ErrorRate", "fraud", "2", "FIRING"))  # fmt: skip
    code, out, err = running.finish()
    assert code == 1, out + err
    assert "ErrorRate" in out and "model=fraud" in out and "version=2" in out
    recorded = latest_validation(gate.rc, "fraud", "2")
    assert (recorded["passed"], recorded["validator"]) == (False, "gate:watch")
    assert recorded["metrics"]["alerts_matching"] == 1
    assert recorded["details"] == (
        "no firing alert: ErrorRate (alertname=ErrorRate,model=fraud,severity=page,version=2: "
        "ErrorRate on fraud)"
    )


def test_watch_passes_when_only_other_alerts_arrive(gate, kafka_settings, prefix) -> None:
    # Fired before the watch began: not this deploy's business.
    publish_alerts(kafka_settings, prefix, ("ErrorRate", "fraud", "2", "FIRING"))
    running = watch(gate, "8")
    publish_alerts(kafka_settings, prefix, ("HighLatency", "fraud", "1", "FIRING"),
                   ("HighLatency", "ranker", "2", "FIRING"),
                   ("ErrorRate", "fraud", "2", "RESOLVED"))  # fmt: skip
    code, out, err = running.finish()
    assert code == 0, out + err
    recorded = latest_validation(gate.rc, "fraud", "2")
    assert (recorded["passed"], recorded["validator"]) == (True, "gate:watch")
    assert recorded["metrics"]["alerts_seen"] == 3
    assert recorded["metrics"]["alerts_matching"] == 1
