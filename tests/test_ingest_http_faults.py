"""ingest when Kafka is away or the service dies: 429 once the in-flight bound is full,
503 at the deadline for what the broker never acknowledged, ``/healthz`` saying Kafka does
not answer, recovery once it does (the retried batch lands, nothing lost), a frozen broker
answered within the deadline, and kill -9 after a 200 losing nothing."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections import Counter

import pytest

from watchkeeper import topic_admin
from watchkeeper.devstack import ServiceProcess
from watchkeeper.local_kafka import SERVER_TEMPLATE, LocalKafka
from watchkeeper.ports import free_port
from watchkeeper.settings import KafkaSettings

from .helpers import wait_for
from .ingest_http_support import TOKENS, client, on_topic, prediction
from .tcp_proxy import TcpProxy

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
BOUND = 20
DEADLINE_S = 6


class ProxiedBroker:
    """A broker of this test's own that advertises a proxy's port: every client connection
    goes through the proxy, so stopping it cuts Kafka off for good (not only the bootstrap)."""

    def __init__(self, home) -> None:
        self.port, self.proxy_port = free_port(), free_port()
        advertised = "advertised.listeners=PLAINTEXT://127.0.0.1:{port}"
        text = SERVER_TEMPLATE.read_text()
        assert advertised in text
        template = home / "server.properties.in"
        template.write_text(
            text.replace(
                advertised, f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.proxy_port}"
            )
        )
        self.proxy: TcpProxy | None = None
        self.connect()
        self.kafka = LocalKafka(
            home=home / "kafka", port=self.port, controller_port=free_port(), template=template
        )
        self.kafka.up(timeout=120)
        self.settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{self.proxy_port}")

    def connect(self) -> None:
        self.proxy = TcpProxy(self.proxy_port, self.port).start()

    def cut(self) -> None:
        assert self.proxy is not None
        self.proxy.stop()
        self.proxy = None

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        self.kafka.down()


@pytest.fixture
def broker(tmp_path):
    broker = ProxiedBroker(tmp_path)
    yield broker
    broker.close()


def start_ingest(bootstrap: str, prefix: str, log_path, **env: str) -> ServiceProcess:
    service = ServiceProcess(
        "services.ingest",
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "WK_TOPIC_PREFIX": prefix,
            "WK_INGEST_API_TOKENS": TOKENS,
            **env,
        },
        log_path,
    )
    service.wait_healthy()
    return service


def batch(run: str, start: int, count: int) -> dict:
    events = [prediction(i, event_id=f"{run}-{i}") for i in range(start, start + count)]
    return {"topic": "predictions", "events": events}


def test_backpressure_429_then_recovery_with_nothing_lost(broker, tmp_path) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    topic_admin.apply(broker.settings, prefix=prefix)
    service = start_ingest(
        broker.settings.bootstrap_servers,
        prefix,
        tmp_path / "ingest.log",
        WK_INGEST_MAX_EVENTS=str(BOUND),
        WK_INGEST_MAX_INFLIGHT_EVENTS=str(BOUND),
        WK_INGEST_DEADLINE_S=str(DEADLINE_S),
        WK_INGEST_PROBE_S="1",
    )
    run = uuid.uuid4().hex[:6]
    try:
        with client(service.url) as http:
            assert http.post("/v1/events", json=batch(run, 0, 5)).status_code == 200
            broker.cut()  # nothing reaches the broker any more: the queue cannot drain
            stuck: dict = {}

            def fill() -> None:
                with client(service.url) as other:
                    stuck["response"] = other.post("/v1/events", json=batch(run, 5, BOUND))

            filler = threading.Thread(target=fill)
            filler.start()
            wait_for(
                lambda: service.metric("wk_ingest_inflight_events") == BOUND,
                timeout=30,
                what="the bound filled by the stuck request",
            )
            refused = http.post("/v1/events", json=batch(run, 5 + BOUND, 1))
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["error"].startswith(f"{BOUND} events (")
            filler.join(timeout=DEADLINE_S + 30)  # answered by the deadline, not left hanging
            assert not filler.is_alive()
            answer = stuck["response"]
            assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
            body = answer.json()
            assert (body["errors"], body["accepted"], body["failed"]) == (True, 0, BOUND)
            assert {i["status"] for i in body["items"]} == {"failed"}
            assert "retry with the same event_id" in body["items"][0]["reason"]
            assert service.metric("wk_ingest_inflight_events") == 0  # given back
            assert service.metric("wk_ingest_throttled_total", reason="inflight_full") == 1
            _, health = wait_for(
                lambda: (h := service.health())[0] == 503 and h, timeout=30, what="/healthz 503"
            )
            assert "Kafka has not answered" in health["problems"][0]

            broker.connect()
            wait_for(lambda: service.health()[0] == 200, timeout=60, what="/healthz ok again")
            # The client retries both refused batches with the same ids: they land.
            retried = http.post("/v1/events", json=batch(run, 5, BOUND))
            assert retried.status_code == 200, retried.text
            assert http.post("/v1/events", json=batch(run, 5 + BOUND, 1)).status_code == 200
        ids = Counter(e["event_id"] for _, e in on_topic(broker.settings, prefix, "predictions"))
        assert ids == Counter(f"{run}-{i}" for i in range(5 + BOUND + 1))  # each exactly once
    finally:
        service.stop()


def test_a_frozen_broker_is_answered_within_the_deadline(broker, tmp_path) -> None:
    """SIGSTOP: connections stay open and nothing answers (a hung broker). The request is
    answered 503 at the deadline; the events may or may not be written, so the client
    retries with the same ids and the topic holds every one (a copy twice at most)."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    topic_admin.apply(broker.settings, prefix=prefix)
    service = start_ingest(
        broker.settings.bootstrap_servers,
        prefix,
        tmp_path / "ingest.log",
        WK_INGEST_DEADLINE_S=str(DEADLINE_S),
        WK_INGEST_PROBE_S="1",
    )
    run = uuid.uuid4().hex[:6]
    pid = broker.kafka.running_pid()
    assert pid is not None
    try:
        with client(service.url, timeout=DEADLINE_S + 30) as http:
            assert http.post("/v1/events", json=batch(run, 0, 5)).status_code == 200
            os.kill(pid, signal.SIGSTOP)
            try:
                hung = http.post("/v1/events", json=batch(run, 5, 10))
                assert hung.status_code == 503, hung.text
                assert hung.json()["failed"] == 10
            finally:
                os.kill(pid, signal.SIGCONT)
            wait_for(lambda: service.health()[0] == 200, timeout=60, what="/healthz ok again")
            retried = http.post("/v1/events", json=batch(run, 5, 10))
            assert retried.status_code == 200, retried.text
        ids = Counter(e["event_id"] for _, e in on_topic(broker.settings, prefix, "predictions"))
        assert set(ids) == {f"{run}-{i}" for i in range(15)}  # nothing lost
        assert max(ids.values()) <= 2  # a retry after a 503 may double an event, never more
        assert all(ids[f"{run}-{i}"] == 1 for i in range(5))
    finally:
        service.stop()


def test_kill_9_after_200_keeps_every_acknowledged_event(kafka_settings, prefix, tmp_path) -> None:
    service = start_ingest(kafka_settings.bootstrap_servers, prefix, tmp_path / "ingest.log")
    run = uuid.uuid4().hex[:6]
    with client(service.url) as http:
        for start in range(0, 300, 100):
            response = http.post("/v1/events", json=batch(run, start, 100))
            assert response.status_code == 200, response.text
    service.kill()  # no flush, no clean exit: only what the broker acknowledged counts
    ids = Counter(e["event_id"] for _, e in on_topic(kafka_settings, prefix, "predictions"))
    assert ids == Counter(f"{run}-{i}" for i in range(300))
    again = start_ingest(kafka_settings.bootstrap_servers, prefix, tmp_path / "ingest-2.log")
    try:
        with client(again.url) as http:
            assert http.post("/v1/events", json=batch(run, 300, 10)).status_code == 200
    finally:
        assert again.stop() == 0  # SIGTERM: answered, flushed, a clean exit
    assert len(on_topic(kafka_settings, prefix, "predictions")) == 310


def test_an_event_over_message_max_bytes_is_refused_alone(kafka_settings, prefix, tmp_path) -> None:
    """Under the body cap but over librdkafka's message.max.bytes (1,000,000) once
    encoded: that item is refused, its neighbours are written."""
    service = start_ingest(kafka_settings.bootstrap_servers, prefix, tmp_path / "ingest.log")
    run = uuid.uuid4().hex[:6]
    events = batch(run, 0, 3)["events"]
    events[1]["user_id"] = "u" * 1_000_000
    try:
        with client(service.url) as http:
            response = http.post("/v1/events", json={"topic": "predictions", "events": events})
        assert response.status_code == 207, response.text
        items = response.json()["items"]
        assert [i["status"] for i in items] == ["accepted", "rejected", "accepted"]
        assert (items[1]["code"], items[1]["reason"]) == (
            "too_large",
            "Kafka refused it: MSG_SIZE_TOO_LARGE",
        )
        assert service.metric("wk_ingest_inflight_bytes") == 0
    finally:
        service.stop()
    ids = sorted(e["event_id"] for _, e in on_topic(kafka_settings, prefix, "predictions"))
    assert ids == [f"{run}-0", f"{run}-2"]


def test_kafka_unreachable_at_start_up_answers_503_then_exits_1(tmp_path) -> None:
    """Nothing listens at the bootstrap address: /healthz says starting, a POST gets 503
    with Retry-After (not a hang, not a 200), and after WK_STARTUP_TIMEOUT_S the process
    exits 1 for its supervisor to start again."""
    service = ServiceProcess(
        "services.ingest",
        {
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "WK_TOPIC_PREFIX": "never.",
            "WK_INGEST_API_TOKENS": TOKENS,
            "WK_STARTUP_TIMEOUT_S": "8",
        },
        tmp_path / "ingest.log",
    )
    try:
        status, health = wait_for(
            lambda: service.process.poll() is None and service.health(), timeout=30,
            what="/healthz answering",
        )  # fmt: skip
        assert (status, health["status"]) == (503, "starting")
        with client(service.url) as http:
            response = http.post("/v1/events", json=batch("x", 0, 1))
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert response.json() == {"error": "starting: Kafka is not ready yet"}
        assert service.process.wait(timeout=60) == 1
    finally:
        service.stop()
    assert "cannot reach Kafka" in service.logs()
