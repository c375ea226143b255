"""drift's command line and configuration, without a broker: --help, --check-config, bad
environment values, the reference subcommand, and domain modules free of Kafka clients."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from services.drift.config import DriftConfig, MonitorSettings, load_settings
from services.drift.spec import SPEC
from watchkeeper.runtime.entry import main, run
from watchkeeper.settings import ConfigError
from watchkeeper.yamlconf import ConfigFileError

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy" / "drift.yaml"

# Any socket use fails the process: --help must answer without the network.
NO_NETWORK = """
import runpy, socket, sys
def refuse(*args, **kwargs):
    raise AssertionError("the network was touched")
socket.socket.connect = socket.socket.bind = socket.create_connection = refuse
sys.argv = ["drift", *sys.argv[1:]]
runpy.run_module("services.drift", run_name="__main__", alter_sys=True)
"""


def python(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drift.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_help_lists_every_drift_variable_without_touching_the_network() -> None:
    done = python("-c", NO_NETWORK, "--help")
    assert done.returncode == 0, done.stderr
    for name in (
        "WK_DRIFT_CONFIG",
        "WK_DRIFT_LABEL_HORIZON",
        "WK_DRIFT_MAX_PENDING",
        "WK_DRIFT_MAX_METRIC_SERIES",
    ):
        assert name in done.stdout
    assert "reads:  predictions, feedback" in done.stdout


def test_the_reference_subcommand_has_its_own_help() -> None:
    done = python("-c", NO_NETWORK, "reference", "--help")
    assert done.returncode == 0, done.stderr
    assert "python -m services.drift reference" in done.stdout and "--replace" in done.stdout


def test_the_shipped_file_checks_and_holds_the_built_in_defaults(capsys) -> None:
    assert main(SPEC, ["--check-config", str(DEPLOY)]) == 0
    assert capsys.readouterr().out.strip() == f"{DEPLOY}: ok"
    found = load_settings(str(DEPLOY))
    assert found.defaults == MonitorSettings()
    assert found.models["fraud"].positive_label == "fraud"
    assert found.models["fraud"].detector_for("amount") == "page_hinkley"


def test_models_given_as_a_list_is_an_error_with_file_and_line(tmp_path, capsys) -> None:
    path = write(tmp_path, "defaults: {window: 1000}\nmodels: [fraud]\n")
    with pytest.raises(ConfigFileError) as caught:
        load_settings(str(path))
    assert (caught.value.source, caught.value.line) == (str(path), 2)
    assert main(SPEC, ["--check-config", str(path)]) == 2
    assert f"{path}:2: models must map model names to settings" in capsys.readouterr().err


def test_a_bad_setting_of_one_model_names_its_line(tmp_path, capsys) -> None:
    path = write(
        tmp_path,
        """\
        defaults:
          window: 1000
        models:
          fraud:
            positive_label: fraud
            detector: wavelet
        """,
    )
    assert main(SPEC, ["--check-config", str(path)]) == 2
    assert f"{path}:6: detector must be one of" in capsys.readouterr().err


def test_model_settings_start_from_the_files_defaults(tmp_path) -> None:
    path = write(tmp_path, "defaults: {min_labels: 50}\nmodels:\n  fraud: {label_window: 400}\n")
    config = DriftConfig.from_env().with_file(str(path))
    assert config.for_model("fraud").min_labels == 50
    assert config.for_model("fraud").label_window == 400
    assert config.for_model("other") == config.defaults


def test_a_bad_label_horizon_names_the_variable(monkeypatch, capsys) -> None:
    monkeypatch.setenv("WK_DRIFT_LABEL_HORIZON", "7days")
    with pytest.raises(ConfigError, match="WK_DRIFT_LABEL_HORIZON"):
        DriftConfig.from_env()
    assert run(SPEC) == 2
    assert "WK_DRIFT_LABEL_HORIZON" in capsys.readouterr().err


def test_a_broken_config_file_in_the_environment_exits_2_before_anything_starts(
    tmp_path,
) -> None:
    path = write(tmp_path, "models: [fraud]\n")
    done = python("-c", NO_NETWORK, WK_DRIFT_CONFIG=str(path))
    assert done.returncode == 2
    assert f"{path}:1: models must map model names to settings" in done.stderr
