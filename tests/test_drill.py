"""``watchkeeper drill``: both drills run end to end on real brokers, MirrorMaker 2 and the
services, print RTO and RPO and write the JSON (targets set out of reach: the figures are
the benchmark's to judge, not a test's)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from watchkeeper._paths import REPO_ROOT

pytestmark = [pytest.mark.kafka, pytest.mark.faults, pytest.mark.timeout(900)]


def test_drill_prints_rto_and_rpo_and_writes_the_json(tmp_path):
    out = tmp_path / "dr.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "watchkeeper",
            "drill",
            "--json",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
            "--rto-target",
            "100000",
            "--rpo-target",
            "100000",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=840,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    # The failover drill: an alert came from b, so the services followed the switch;
    # the RPO was measured against what a really held.
    assert figures["rto_s"] is not None and figures["rto_s"] > 0
    assert figures["sdk_switch_s"] is not None
    assert figures["rpo_acked_events"] > 0
    assert 0 <= figures["rpo_events"] <= figures["rpo_acked_events"]
    assert (figures["rpo_s"] == 0) == (figures["rpo_events"] == 0)
    assert figures["sdk_dropped"] == 0
    # The restore drill: the state came back and the rebuilt system alerted.
    assert figures["restore_state_identical"] is True
    assert figures["restore_records"] > 0
    assert figures["restore_rto_s"] is not None and figures["restore_rto_s"] > 0
    assert "RTO" in result.stdout and "RPO" in result.stdout
