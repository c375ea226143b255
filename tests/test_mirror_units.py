"""Replication's parts that need no broker: MM2's configuration, cluster b's settings, the
command line's refusals, the replication service's settings and its alert conditions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.replication.config import ReplicationConfig
from services.replication.watch import ReplicationWatch
from watchkeeper.mirror import Mirror, cluster_b_from_env, mm2_properties
from watchkeeper.mirror.lag import PartitionLag, Record, match
from watchkeeper.mirror.process import MIRROR_POM
from watchkeeper.settings import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def props(text: str) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)


def test_mm2_is_the_brokers_kafka_version() -> None:
    version = re.compile(r"<kafka.version>([^<]+)</kafka.version>")
    broker = version.search((ROOT / "deploy/kafka/pom.xml").read_text()).group(1)
    assert version.search(MIRROR_POM.read_text()).group(1) == broker


def test_the_prefix_is_a_regex_with_its_dots_escaped_for_a_properties_file() -> None:
    found = props(mm2_properties("127.0.0.1:1", "127.0.0.1:2", "a.b+c."))
    # A properties file turns "\\." into "\."; MM2 then matches a literal dot.
    assert found["a->b.topics"] == r"a\\.b\\+c\\..*"
    assert found["sync.group.offsets.enabled"] == "true"
    assert found["sync.topic.configs.enabled"] == "true"
    assert found["a.consumer.isolation.level"] == "read_committed"
    assert {k for k, v in found.items() if k.endswith("replication.factor")} == {
        "replication.factor",
        "checkpoints.topic.replication.factor",
        "heartbeats.topic.replication.factor",
        "offset-syncs.topic.replication.factor",
        "offset.storage.replication.factor",
        "status.storage.replication.factor",
        "config.storage.replication.factor",
    }


@pytest.mark.parametrize(
    ("source", "prefix"),
    [("127.0.0.1:1", ""), ("127.0.0.1:1\nclusters = x", "wk."), ("a=b:1", "wk."), ("", "wk.")],
)
def test_hostile_values_are_refused_before_anything_is_written(source, prefix) -> None:
    with pytest.raises(ValueError):
        mm2_properties(source, "127.0.0.1:2", prefix)


def test_an_empty_prefix_exits_2_from_the_command_line(tmp_path) -> None:
    env = {**os.environ, "WK_MIRROR_HOME": str(tmp_path / "mm2")}
    done = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "mirror", "up", "--prefix", ""],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "a prefix is needed" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "mm2" / "mirror.pid").exists()


def test_status_of_a_mirror_never_started(tmp_path) -> None:
    env = {**os.environ, "WK_MIRROR_HOME": str(tmp_path / "mm2")}
    done = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "mirror", "status"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "not running" in done.stdout


def test_a_pid_file_naming_another_process_is_not_a_mirror(tmp_path) -> None:
    mirror = Mirror("127.0.0.1:1", "127.0.0.1:2", tmp_path)
    mirror.pid_file.write_text(f"{os.getpid()}\n")  # this pytest: alive, but no MM2
    assert mirror.running_pid() is None
    mirror.pid_file.write_text("garbage\n")
    assert mirror.running_pid() is None
    assert mirror.down() is False and not mirror.pid_file.exists()


def test_cluster_b_has_its_own_home_and_ports(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("WK_KAFKA_B_PORT", "19392")
    monkeypatch.setenv("WK_CACHE_DIR", str(tmp_path))
    b = cluster_b_from_env()
    assert (b.port, b.controller_port) == (19392, 19393)
    assert b.home == tmp_path / "kafka" / "cluster-b"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WK_REPLICATION_POLL_S", "0"),
        ("WK_REPLICATION_POLL_S", "nan"),
        ("WK_REPLICATION_LAG_THRESHOLD_S", "-1"),
        ("WK_REPLICATION_LAG_FOR_S", "-5"),
        ("WK_REPLICATION_RESOLVE_AFTER", "1.5"),
        ("WK_REPLICATION_TARGET", "no port here"),
        ("WK_REPLICATION_TIMEOUT_S", "inf"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch, variable, value) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        ReplicationConfig.from_env()


def test_lag_fires_only_after_it_held_and_resolves_with_the_same_start() -> None:
    watch = ReplicationWatch("b", threshold_s=10, fire_after=3, resolve_after=2, down_after=1)
    slow = [PartitionLag("wk.x", 0, 50, 12.0)]
    assert watch.observe(slow, 0) == watch.observe(slow, 1000) == []
    fired = watch.observe(slow, 2000)
    assert [(c.status, c.starts_at_ms, c.value) for c in fired] == [("firing", 2000, 12.0)]
    assert watch.observe([PartitionLag("wk.x", 0, 0, 0.0)], 3000) == []  # one clear poll
    assert watch.observe(slow, 4000) == []  # breaching again: still firing, no new record
    watch.observe([PartitionLag("wk.x", 0, 0, 0.0)], 5000)
    resolved = watch.observe([PartitionLag("wk.x", 0, 0, 0.0)], 6000)
    assert [(c.status, c.starts_at_ms) for c in resolved] == [("resolved", 2000)]


def test_an_unreachable_target_leaves_lag_alone_and_fires_down() -> None:
    watch = ReplicationWatch("b", threshold_s=10, fire_after=1, resolve_after=1, down_after=2)
    assert watch.observe([PartitionLag("wk.x", 0, 5, 30.0)], 0)[0].status == "firing"
    assert watch.observe(None, 1000) == []
    (down,) = watch.observe(None, 2000)
    assert (down.identity["alertname"], down.status) == ("ReplicationDown", "firing")
    changes = watch.observe([PartitionLag("wk.x", 0, 0, 0.0)], 3000)
    assert {(c.identity["alertname"], c.status) for c in changes} == {
        ("ReplicationDown", "resolved"),
        ("ReplicationLagging", "resolved"),
    }


def test_a_deleted_topic_resolves_its_alert() -> None:
    watch = ReplicationWatch("b", threshold_s=1, fire_after=1, resolve_after=1)
    watch.observe([PartitionLag("wk.gone", 0, 5, 9.0)], 0)
    (change,) = watch.observe([], 1000)
    assert (change.identity["topic"], change.status) == ("wk.gone", "resolved")
    assert watch.observe([], 2000) == []


def test_no_match_on_a_means_no_match() -> None:
    newest = Record(3, 100, None, b"x")
    assert match(newest, [Record(5, 100, None, b"y"), Record(6, 101, None, b"x")]) is None


def test_cluster_b_with_three_brokers_is_refused(capsys) -> None:
    from watchkeeper import kafka_cli

    assert kafka_cli.main_up(brokers=3, cluster="b") == 2
    assert "--cluster b is a single broker" in capsys.readouterr().err
