"""The emitter SDK without a broker: validation at the call site, the buffer bound and the
drop count with Kafka really unreachable, close() with a deadline, timing helpers."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from watchkeeper.ports import free_port
from watchkeeper.sdk import Emitter
from watchkeeper.sdk._buffer import Backlog
from watchkeeper.settings import KafkaSettings


def unreachable() -> KafkaSettings:
    # A port that was just free: nothing listens there, connections are refused.
    return KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")


@pytest.fixture
def emitter(request):
    created = []

    def make(**kwargs) -> Emitter:
        kwargs.setdefault("client_id", f"test-{request.node.name}"[:60])
        instance = Emitter(kwargs.pop("settings", unreachable()), prefix="unit.", **kwargs)
        created.append(instance)
        return instance

    yield make
    for instance in created:
        instance.close(timeout=0)


def dropped_metric(client_id: str, reason: str) -> float | None:
    return REGISTRY.get_sample_value(
        "wk_sdk_events_dropped_total", {"client_id": client_id, "reason": reason}
    )


def test_unreachable_broker_holds_at_most_buffer_size_and_counts_every_drop(emitter) -> None:
    sdk = emitter(buffer_size=100)
    for i in range(1000):
        sdk.prediction(model="fraud", version="3", latency_ms=float(i))
    assert sdk.emitted == 1000
    assert sdk.buffered == 100
    assert sdk.dropped == 900
    assert sdk.drops() == {"buffer_full": 900}
    assert dropped_metric(sdk.client_id, "buffer_full") == 900
    assert REGISTRY.get_sample_value("wk_sdk_buffered_events", {"client_id": sdk.client_id}) == 100

    undelivered = sdk.close(timeout=0.5)
    assert undelivered == 100
    assert sdk.dropped == 1000  # nothing reached Kafka, and every event is accounted for
    assert sdk.buffered == 0


def test_emit_after_close_is_counted_not_raised(emitter) -> None:
    sdk = emitter(buffer_size=10)
    sdk.close(timeout=0)
    assert sdk.close() == 0  # twice is fine
    sdk.prediction(model="fraud", version="3", latency_ms=1.0)
    assert sdk.drops().get("closed") == 1


def test_backlog_drops_its_oldest() -> None:
    dropped: list[int] = []
    backlog = Backlog(3, dropped.append)
    for i in range(5):
        backlog.push(("t", b"k", str(i).encode()))
    sent: list[bytes] = []
    backlog.drain(lambda item: sent.append(item[2]) or True)
    assert sent == [b"2", b"3", b"4"]
    assert sum(dropped) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": 7}, "PredictionEvent.model: expected string, got int 7"),
        ({"model": ""}, "PredictionEvent.model: must not be empty"),
        ({"latency_ms": "fast"}, "PredictionEvent.latency_ms: expected double, got str 'fast'"),
        ({"latency_ms": -1.0}, "PredictionEvent.latency_ms: must be >= 0"),
        ({"score": "high"}, "PredictionEvent.score: expected double, got str 'high'"),
        (
            {"num_features": {"amount": None}},
            "PredictionEvent.num_features['amount']: expected double, got NoneType",
        ),
        ({"status": "ok"}, "PredictionEvent.status: expected one of"),
        (
            {"llm": {"provider_model": "gpt", "tokens_in": 3}},
            "PredictionEvent.llm.tokens_out: required field is missing",
        ),
        ({"cache_hit": 1}, "PredictionEvent.cache_hit: expected boolean, got int 1"),
    ],
)
def test_wrong_fields_raise_value_error_naming_the_field(emitter, kwargs, message) -> None:
    sdk = emitter(buffer_size=10)
    call = {"model": "fraud", "version": "3", "latency_ms": 1.0, **kwargs}
    with pytest.raises(ValueError) as info:
        sdk.prediction(**call)
    assert message in str(info.value)
    assert sdk.emitted == 0


def test_telemetry_and_feedback_validate_too(emitter) -> None:
    sdk = emitter(buffer_size=10)
    with pytest.raises(ValueError, match=r"TelemetryEvent\.cpu: unknown field"):
        sdk.telemetry(host="h1", model="fraud", version="3", cpu=0.5)
    with pytest.raises(ValueError, match=r"TelemetryEvent\.gpu_utilization: must be <= 1"):
        sdk.telemetry(host="h1", model="fraud", version="3", gpu_utilization=1.5)
    with pytest.raises(ValueError, match=r"FeedbackEvent\.event_id: must not be empty"):
        sdk.feedback(event_id="", model="fraud", label="fraud")
    sdk.telemetry(host="h1", model="fraud", version="3", cpu_utilization=0.5, spot=True)
    sdk.feedback(event_id="e1", model="fraud", label="fraud")
    assert sdk.emitted == 2


def test_timed_records_latency_and_status(emitter) -> None:
    sdk = emitter(buffer_size=10)
    with sdk.timed(model="fraud", version="3", region="eu") as call:
        call.set(label="legit", score=0.97, num_features={"amount": 12.0})
    assert call.record["status"] == "OK"
    assert call.record["prediction_label"] == "legit"
    assert call.record["region"] == "eu"
    assert call.record["latency_ms"] >= 0
    assert sdk.emitted == 1


def test_timed_block_that_raises_is_an_error_event_and_the_exception_propagates(emitter) -> None:
    sdk = emitter(buffer_size=10)
    with pytest.raises(ZeroDivisionError), sdk.timed(model="fraud", version="3") as call:
        1 / 0  # noqa: B018
    assert call.record["status"] == "ERROR"
    assert call.record["error_type"] == "ZeroDivisionError"
    with pytest.raises(TimeoutError), sdk.timed(model="fraud", version="3") as call:
        raise TimeoutError
    assert call.record["status"] == "TIMEOUT"
    assert sdk.emitted == 2


def test_timed_set_checks_fields_at_the_call_site(emitter) -> None:
    sdk = emitter(buffer_size=10)
    with (
        sdk.timed(model="fraud", version="3") as call,
        pytest.raises(ValueError, match=r"PredictionEvent\.score: expected double"),
    ):
        call.set(score="high")
    assert call.record.get("score") is None  # the bad value never got in
    with pytest.raises(ValueError, match=r"PredictionEvent\.colour: unknown field"):
        sdk.timed(model="fraud", version="3", colour="red")


def test_instrument_decorates_sync_and_async_functions(emitter) -> None:
    sdk = emitter(buffer_size=10)

    @sdk.instrument(
        model="fraud",
        version="3",
        describe=lambda result, x: {"label": result, "num_features": {"x": x}},
    )
    def predict(x: float) -> str:
        return "fraud" if x > 100 else "legit"

    @sdk.instrument(model="chat", version="1")
    async def answer(prompt: str) -> str:
        await asyncio.sleep(0)
        raise RuntimeError("provider down")

    assert predict(500.0) == "fraud"
    assert predict.__name__ == "predict"
    with pytest.raises(RuntimeError):
        asyncio.run(answer("hi"))
    assert sdk.emitted == 2


def test_buffer_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="buffer_size must be at least 1"):
        Emitter(unreachable(), buffer_size=0)


def test_secrets_never_show_in_repr() -> None:
    settings = KafkaSettings("h:9092", "SASL_SSL", "PLAIN", "svc", "hunter2")
    assert "hunter2" not in repr(settings)
    assert settings.confluent()["sasl.password"] == "hunter2"
    assert settings.confluent()["security.protocol"] == "sasl_ssl"
