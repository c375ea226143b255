"""Bad usage and bad input: exit 2 with the reason (file:line where one applies), no
traceback. No broker, no registry: nothing here gets that far."""

from __future__ import annotations

import pytest

from tests.gate_support import run_cli, write_holdout


@pytest.fixture
def holdout(tmp_path):
    return write_holdout(tmp_path / "holdout.csv")


def gate(*args: str):
    done = run_cli("gate", *args, env={"WK_REGISTRY_URL": ""}, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def validate(holdout, *more: str):
    return gate("validate", "--model", "fraud", "--candidate", "2", "--holdout", str(holdout),
                "--label-column", "y", *more)  # fmt: skip


@pytest.mark.parametrize(
    ("more", "reason"),
    [
        (["--candidate-scores", "cand", "--min", "auc"], "--min 'auc': expected metric=number"),
        (["--candidate-scores", "cand", "--min", "gini=0.3"], "unknown metric 'gini'"),
        (["--candidate-scores", "cand", "--min-delta", "auc=0.01"],
         "auc - champion >= 0.01 compares with the champion: give --champion-scores"),
        (["--candidate-scores", "cand"], "nothing to check"),
        (["--candidate-scores", "nope", "--min", "auc=0.5"],
         "holdout.csv:2: no value in column nope"),
        (["--candidate-scores", "cand", "--max-gap", "tpr=0.1"], "need --sensitive COLUMN"),
        (["--candidate-scores", "cand", "--sensitive", "group", "--max-gap", "fnr=0.1"],
         "--max-gap 'fnr=0.1': expected NAME=number, NAME one of parity, tpr, odds"),
        (["--candidate-predict", "no_such_module:f", "--min", "auc=0.5"],
         "--candidate-predict 'no_such_module:f': cannot import no_such_module"),
        (["--min", "auc=0.5"], "give the candidate's scores"),
    ],
)  # fmt: skip
def test_validate_usage_errors_exit_2(holdout, more, reason) -> None:
    done = validate(holdout, *more)
    assert done.returncode == 2 and reason in done.stderr, done.stderr


def test_a_bad_holdout_cell_and_a_bad_thresholds_file_name_file_and_line(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"y": 1, "s": 0.9}\n{"y": 2, "s": 0.1}\n')
    done = validate(bad, "--candidate-scores", "s", "--min", "auc=0.5")
    assert done.returncode == 2 and f"{bad}:2: column y: 2 is not 0 or 1" in done.stderr
    good = write_holdout(tmp_path / "holdout.csv")
    thresholds = tmp_path / "t.yaml"
    thresholds.write_text("auc:\n  min: 0.8\nlog_loss:\n  max_delta: lots\n")
    done = validate(good, "--candidate-scores", "cand", "--thresholds", str(thresholds))
    assert done.returncode == 2
    assert f"{thresholds}:4: log_loss.max_delta: 'lots' is not a number" in done.stderr


def test_scores_from_a_predict_function_given_the_rows(tmp_path, monkeypatch) -> None:
    holdout = write_holdout(tmp_path / "holdout.csv")
    (tmp_path / "scorer.py").write_text(
        "def cand(rows):\n    return [float(r['cand']) for r in rows]\n"
        "def champ(rows):\n    return [float(r['champ']) for r in rows]\n"
    )
    done = run_cli("gate", "validate", "--model", "fraud", "--candidate", "2",
                   "--holdout", str(holdout), "--label-column", "y",
                   "--candidate-predict", "scorer:cand", "--champion-predict", "scorer:champ",
                   "--min-delta", "auc=0.05", env={"PYTHONPATH": str(tmp_path),
                                                   "WK_REGISTRY_URL": ""})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "auc - champion >= 0.05  0.08" in done.stdout


def test_other_gates_usage_errors_exit_2(tmp_path) -> None:
    done = gate("staging", "--model", "fraud", "--version", "2")
    assert done.returncode == 2 and "give the command after --" in done.stderr
    done = gate("staging", "--model", "fraud", "--version", "2", "--", "/no/such/tool")
    assert done.returncode == 2 and "cannot run '/no/such/tool'" in done.stderr
    spec = tmp_path / "rollout.yaml"
    spec.write_text("model: fraud\nstrategy: canary\n")
    done = gate("rollout", "--rollout-url", "http://127.0.0.1:9", "--spec", str(spec))
    assert done.returncode == 2 and f"{spec}:1: the spec needs candidate" in done.stderr
    done = gate("rollout", "--spec", str(spec))
    assert done.returncode == 2 and "give --rollout-url" in done.stderr
    done = gate("watch", "--model", "fraud", "--version", "2", "--seconds", "0")
    assert done.returncode == 2 and "must be more than 0" in done.stderr
    done = gate("watch", "--model", "fraud", "--version", "2")
    assert done.returncode == 2 and "one of the arguments --minutes --seconds" in done.stderr
