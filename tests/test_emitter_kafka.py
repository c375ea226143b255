"""The emitter against a real broker: exact delivery, and a broker that comes back."""

from __future__ import annotations

import pytest

from watchkeeper.codec import Codec
from watchkeeper.ports import free_port
from watchkeeper.sdk import Emitter
from watchkeeper.settings import KafkaSettings

from .helpers import consume
from .tcp_proxy import TcpProxy

pytestmark = pytest.mark.kafka
CODEC = Codec()


def test_every_event_arrives_once_with_the_model_as_key(kafka_settings, prefix) -> None:
    sdk = Emitter(kafka_settings, prefix=prefix, client_id="it-exact")
    ids = {}
    for i in range(500):
        model = "fraud" if i % 2 else "recommender"
        ids[
            sdk.prediction(
                model=model,
                version="1",
                latency_ms=float(i),
                num_features={"x": float(i)},
                label=str(i % 3),
            )
        ] = model
    for i in range(20):
        sdk.feedback(event_id=f"e{i}", model="fraud", label="fraud")
    sdk.telemetry(host="node-1", model="fraud", version="1", cpu_utilization=0.3)
    assert sdk.close(timeout=30) == 0
    assert sdk.dropped == 0

    messages = consume(kafka_settings, prefix + "predictions", 500)
    assert len(messages) == 500
    seen = {}
    for message in messages:
        record = CODEC.decode_as("PredictionEvent", message.value())
        assert message.key().decode() == record["model"]
        seen[record["event_id"]] = record["model"]
    assert seen == ids
    assert len(consume(kafka_settings, prefix + "feedback", 20)) == 20
    assert len(consume(kafka_settings, prefix + "telemetry", 1)) == 1
    # Nothing more than what was sent: a short extra read finds no duplicate.
    assert len(consume(kafka_settings, prefix + "predictions", 501, timeout=3)) == 500


def test_broker_that_comes_back_gets_the_window_and_the_newest_events(
    kafka_settings, prefix
) -> None:
    """While Kafka is away the oldest events beyond the bound are dropped; the rest arrive."""
    proxy_port = free_port()
    broker_port = int(kafka_settings.bootstrap_servers.rsplit(":", 1)[1])
    sdk = Emitter(
        KafkaSettings(bootstrap_servers=f"127.0.0.1:{proxy_port}"),
        prefix=prefix,
        buffer_size=100,
        client_id="it-comes-back",
        producer_config={"reconnect.backoff.max.ms": 200, "reconnect.backoff.ms": 50},
    )
    order = [sdk.prediction(model="fraud", version="1", latency_ms=float(i)) for i in range(1000)]
    assert sdk.buffered == 100
    assert sdk.dropped == 900

    proxy = TcpProxy(proxy_port, broker_port).start()
    try:
        assert sdk.flush(timeout=60) == 0
        assert sdk.close(timeout=10) == 0
    finally:
        proxy.stop()
    assert sdk.dropped == 900

    delivered = [
        CODEC.decode_as("PredictionEvent", m.value())["event_id"]
        for m in consume(kafka_settings, prefix + "predictions", 100)
    ]
    # The first 10 were already in librdkafka's window; the backlog kept the newest 90.
    assert sorted(delivered, key=order.index) == order[:10] + order[-90:]
