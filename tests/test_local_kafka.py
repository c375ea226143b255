"""The local broker behind `make kafka-up` / `make kafka-down`."""

from __future__ import annotations

import socket

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from watchkeeper import kafka_cli, local_kafka
from watchkeeper.local_kafka import LocalKafka, LocalKafkaError
from watchkeeper.ports import free_port

from .conftest import SESSION_BROKERS


def test_missing_java_is_one_clear_sentence(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(LocalKafkaError) as info:
        local_kafka.java_binary()
    assert str(info.value).startswith("Kafka needs Java 17 or newer: install a JDK")


def test_missing_maven_is_one_clear_sentence(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("WK_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(LocalKafkaError) as info:
        local_kafka.ensure_jars(quiet=True)
    assert str(info.value).startswith("Fetching Kafka needs Maven: install it")


def test_external_cluster_means_nothing_is_started(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.setenv("WK_KAFKA_HOME", str(tmp_path / "node"))
    assert kafka_cli.main_up() == 0
    assert "using kafka.example:9092, nothing started" in capsys.readouterr().out
    assert not (tmp_path / "node").exists()
    assert kafka_cli.main_down() == 0


def test_a_taken_port_is_named(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = LocalKafka(home=tmp_path, port=port, controller_port=free_port())
        with pytest.raises(LocalKafkaError, match=f"port {port} on 127.0.0.1 is taken"):
            broker.up()


@pytest.mark.kafka
def test_up_twice_is_harmless(kafka_bootstrap, monkeypatch, capsys) -> None:
    broker = SESSION_BROKERS.get(kafka_bootstrap)
    if broker is None:
        pytest.skip("the session uses an external cluster; no local broker to start twice")
    pid = broker.running_pid()
    assert broker.up() == kafka_bootstrap
    assert broker.running_pid() == pid
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("WK_KAFKA_HOME", str(broker.home))
    monkeypatch.setenv("WK_KAFKA_PORT", str(broker.port))
    monkeypatch.setenv("WK_KAFKA_CONTROLLER_PORT", str(broker.controller_port))
    assert kafka_cli.main_up() == 0
    out = capsys.readouterr().out
    assert "Kafka already running" in out
    assert f"KAFKA_BOOTSTRAP_SERVERS={kafka_bootstrap}" in out
    assert broker.running_pid() == pid


def test_full_cycle_keeps_data_across_a_restart(tmp_path) -> None:
    """Format once, start, stop cleanly, start again on the same data, stop."""
    broker = LocalKafka(home=tmp_path / "node", port=free_port(), controller_port=free_port())
    try:
        bootstrap = broker.up()
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("kept", 1, 1)])["kept"].result(30)
        producer = Producer({"bootstrap.servers": bootstrap})
        producer.produce("kept", b"still here")
        assert producer.flush(30) == 0
        assert broker.down() is True
        assert broker.running_pid() is None
        assert broker.down() is False  # twice is harmless too

        meta = (broker.data_dir / "meta.properties").read_text()
        assert broker.up() == bootstrap
        assert (broker.data_dir / "meta.properties").read_text() == meta  # not reformatted
        admin = AdminClient({"bootstrap.servers": bootstrap})
        assert "kept" in admin.list_topics(timeout=10).topics
    finally:
        broker.down()


def test_a_cluster_id_that_starts_with_a_dash_formats(tmp_path) -> None:
    """One fresh id in 64 starts with "-"; the storage tool must not take it for an option."""
    cid = "-" + local_kafka.new_cluster_id()[1:]
    broker = LocalKafka(
        home=tmp_path / "node", port=free_port(), controller_port=free_port(), cluster_id=cid
    )
    local_kafka.ensure_jars(quiet=True)
    (broker.home / "logs").mkdir(parents=True)
    broker._format_storage(local_kafka.java_binary(), broker._write_config())
    assert f"cluster.id={cid}" in (broker.data_dir / "meta.properties").read_text()
