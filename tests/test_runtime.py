"""The shared runtime's parts that need no broker: settings, dead-letter headers, health,
JSON logs, and a service that cannot reach Kafka."""

from __future__ import annotations

import json
import logging

import pytest

from watchkeeper.codec import EventError
from watchkeeper.ports import free_port
from watchkeeper.runtime import Health, ServiceHTTP, dead_letter_headers
from watchkeeper.runtime.logs import JsonFormatter
from watchkeeper.settings import ConfigError, KafkaSettings, secret

from .helpers import ServiceProcess, http_json


def test_secret_from_file_drops_one_trailing_newline(monkeypatch, tmp_path) -> None:
    path = tmp_path / "password"
    path.write_text("s3cret\n")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(path))
    assert secret("KAFKA_SASL_PASSWORD") == "s3cret"
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "other")
    with pytest.raises(ConfigError, match="not both"):
        secret("KAFKA_SASL_PASSWORD")


def test_unreadable_secret_file_is_named_without_its_content(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="KAFKA_SASL_PASSWORD_FILE: cannot read"):
        secret("KAFKA_SASL_PASSWORD")


def test_sasl_settings_pass_through_from_the_environment(monkeypatch, tmp_path) -> None:
    (tmp_path / "pw").write_text("hunter2")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b1:9093,b2:9093")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "sasl_ssl")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc-watchkeeper")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("KAFKA_SSL_CA_LOCATION", "/etc/ssl/ca.pem")
    config = KafkaSettings.from_env().confluent()
    assert config == {
        "bootstrap.servers": "b1:9093,b2:9093",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc-watchkeeper",
        "sasl.password": "hunter2",
        "ssl.ca.location": "/etc/ssl/ca.pem",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "tls"}, "KAFKA_SECURITY_PROTOCOL must be one of"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "GSSAPI"},
            "KAFKA_SASL_MECHANISM must be one of",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN"},
            "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
        ),
    ],
)
def test_bad_security_settings_are_named(monkeypatch, env, message) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        KafkaSettings.from_env()


def test_dead_letter_headers_keep_original_ones_and_replace_stale_reasons() -> None:
    error = EventError("truncated", "PredictionEvent v1: body ends early")
    headers = dead_letter_headers(
        "slo",
        "wk.predictions",
        3,
        1234,
        error,
        error.kind,
        original=[("traceparent", b"00-abc"), ("dlq.error.kind", b"old")],
        now_ms=5,
    )
    as_dict = dict(headers)
    assert as_dict == {
        "traceparent": b"00-abc",
        "dlq.topic": b"wk.predictions",
        "dlq.partition": b"3",
        "dlq.offset": b"1234",
        "dlq.error.class": b"EventError",
        "dlq.error.kind": b"truncated",
        "dlq.error.message": b"truncated: PredictionEvent v1: body ends early",
        "dlq.service": b"slo",
        "dlq.timestamp_ms": b"5",
    }
    long = dead_letter_headers("slo", "t", 0, 0, ValueError("x" * 5000), "processing_error")
    assert len(dict(long)["dlq.error.message"]) == 1000


def test_health_endpoint_reports_state_and_problems() -> None:
    health = Health("counter")
    http = ServiceHTTP(health, port=free_port()).start()
    try:
        url = f"http://127.0.0.1:{http.port}"
        assert http_json(url + "/healthz") == (503, {"service": "counter", "status": "starting"})
        health.ready()
        assert http_json(url + "/healthz")[0] == 200
        lag = {"value": "consumer lag 90 s"}
        health.add_check(lambda: lag["value"])
        assert http_json(url + "/healthz") == (
            503,
            {"service": "counter", "status": "degraded", "problems": ["consumer lag 90 s"]},
        )
        lag["value"] = None
        assert http_json(url + "/healthz")[0] == 200
        assert http_json(url + "/nope")[0] == 404
    finally:
        http.stop()


def test_json_log_lines_carry_extras_and_exceptions(capsys) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service="drift"))
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("failed", extra={"partition": 2})
    line = json.loads(capsys.readouterr().err)
    assert (line["service"], line["level"], line["msg"], line["partition"]) == (
        "drift",
        "error",
        "failed",
        2,
    )
    assert "ValueError: bad" in line["exc"]


def test_unreachable_kafka_fails_start_up_with_a_clear_log(tmp_path) -> None:
    service = ServiceProcess(
        "services.counter",
        {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}", "WK_STARTUP_TIMEOUT_S": "3"},
        tmp_path / "counter.log",
    )
    assert service.process.wait(60) == 1
    logs = [json.loads(line) for line in service.logs().splitlines() if line.startswith("{")]
    assert any(entry["msg"] == "cannot reach Kafka; giving up" for entry in logs)
    assert all(entry["service"] == "counter" for entry in logs)
