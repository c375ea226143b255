"""What the router's integration tests share (no tests here): publishing alerts the way the
slo service does, routing files, the router as a process or in this process on an
injected clock, and an API client."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from services.router.app import Router
from services.router.auth import AckLinks, parse_tokens
from services.router.config import RouterConfig
from services.router.retry import RetryPolicy
from services.router.routing_file import loads
from watchkeeper.codec import Codec
from watchkeeper.devstack import WebhookReceiver
from watchkeeper.ports import free_port
from watchkeeper.runtime import compacted
from watchkeeper.settings import KafkaSettings, ServiceSettings

CODEC = Codec()
# Tokens of the tests' API callers: name, scopes, token.
TOKENS = {
    "reader": "reader-token-0123456789",
    "oncall": "oncall-token-0123456789",
    "admin": "admin-token-01234567890",
    "alertmanager": "ingest-token-012345678",
}
TOKEN_TABLE = (
    f"reader read {TOKENS['reader']}; oncall ack {TOKENS['oncall']}; "
    f"admin admin {TOKENS['admin']}; alertmanager ingest {TOKENS['alertmanager']}"
)
LINK_SECRET = "link-secret-for-tests-0123456789"
# One receiver, one group per (alertname, model), notified at once.
SIMPLE = """
route:
  receiver: oncall
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: ${RX}/oncall
"""
FAST_RETRIES = {"WK_ROUTER_RETRY_BASE_S": "0.05", "WK_ROUTER_RETRY_MAX_BACKOFF_S": "0.2"}


class Alerts:
    """Publishes Alert events the way the slo service does: keyed by fingerprint."""

    def __init__(
        self, settings: KafkaSettings, prefix: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.topic = prefix + "alerts"
        self.clock = clock
        self.producer = Producer(
            settings.confluent(**{"enable.idempotence": True, "acks": "all", "linger.ms": 0})
        )
        self.producer.list_topics(self.topic, timeout=10)
        self.started: dict[str, int] = {}

    def fire(self, fingerprint: str, flush: bool = True, **labels: str) -> dict:
        now = int(self.clock() * 1000)
        start = self.started.setdefault(fingerprint, now)
        return self._send(fingerprint, "FIRING", labels, start, None, now, flush)

    def resolve(self, fingerprint: str, **labels: str) -> dict:
        now = int(self.clock() * 1000)
        start = self.started.pop(fingerprint, now)
        return self._send(fingerprint, "RESOLVED", labels, start, now, now)

    def raw(self, value: bytes, key: bytes = b"bad") -> None:
        self.producer.produce(self.topic, value, key=key)
        self.producer.flush(10)

    def _send(self, fp, status, labels, start, end, now, flush=True) -> dict:
        record = {
            "fingerprint": fp,
            "status": status,
            "labels": {"alertname": "HighLatencyP99", "model": "fraud", **labels},
            "annotations": {"summary": f"{fp} {status.lower()}"},
            "value": 812.0,
            "threshold": 300.0,
            "starts_at_ms": start,
            "ends_at_ms": end,
            "event_time_ms": now,
            "generator": "slo",
        }
        self.producer.produce(self.topic, CODEC.encode("Alert", record), key=fp.encode())
        if flush:
            self.producer.flush(10)
        return record


@pytest.fixture
def receiver():
    rx = WebhookReceiver().start()
    yield rx
    rx.stop()


def needs(binary: Path) -> None:
    """Skip, saying why, when a Debian binary the test drives is not unpacked."""
    if not binary.exists():
        pytest.skip(
            f"{binary} is not unpacked: run `python -m watchkeeper.devstack.debian install`"
        )


def routing_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / f"router-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text)
    return str(path)


def start_router(start_service, prefix: str, config: str, receiver: WebhookReceiver, **env):
    """``python -m services.router``; its API's base URL is in ``.api``."""
    port = int(env.pop("WK_ROUTER_API_PORT", 0) or free_port())
    service = start_service(
        "services.router",
        prefix,
        WK_ROUTER_CONFIG=config,
        RX=receiver.url,
        WK_ROUTER_API_PORT=str(port),
        WK_ROUTER_API_TOKENS=TOKEN_TABLE,
        **{**FAST_RETRIES, **env},
    )
    service.api = f"http://127.0.0.1:{port}"
    return service


def read_to_end(settings: KafkaSettings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of ``topic``, from the beginning to its current end."""
    return [(r.key, r.value) for r in compacted.read(settings, topic, 30.0)]


def labels_of(request) -> dict:
    return request.body["commonLabels"]


class Clock:
    """The router's injected clock: moves only when told."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class InProcess:
    """The router in this process, on an injected clock, against the real broker."""

    def __init__(
        self,
        kafka_settings: KafkaSettings,
        prefix: str,
        routing_text: str,
        env: dict[str, str],
        clock: Callable[[], float],
    ) -> None:
        routing = loads(routing_text, env=env)
        config = RouterConfig(
            service=ServiceSettings(
                name="router",
                kafka=kafka_settings,
                prefix=prefix,
                group=f"{prefix}router",
                http_port=0,
            ),
            retry=RetryPolicy(base_s=0.05, max_backoff_s=0.2, max_attempts=3),
            api_port=0,
            api_tokens=parse_tokens(TOKEN_TABLE),
            ack_links=AckLinks(LINK_SECRET.encode(), "http://127.0.0.1:1"),
            external_url="http://127.0.0.1:1",
            shutdown_timeout_s=2.0,
        )
        self.router = Router(config, routing, clock=clock)
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Router:
        self.task = asyncio.get_running_loop().create_task(self.router.run())
        deadline = time.monotonic() + 60
        while self.router.health.state != "ok":
            if self.task.done():
                raise RuntimeError(f"router stopped early: {self.task.result()}")
            if time.monotonic() > deadline:
                raise RuntimeError("router not ready in 60 s")
            await asyncio.sleep(0.05)
        return self.router

    async def __aexit__(self, *exc: object) -> None:
        self.router.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.router.api_port}"


async def settle(router: Router, seconds: float = 0.3) -> None:
    """Let the router act on what it was told (and on a moved clock)."""
    router.wake()
    await asyncio.sleep(seconds)
    assert router.engine is not None
    for _ in range(3):  # a page waits for its record, then notifies: two rounds at most
        await router.engine.drain(5)
        await router.engine.notifier.idle()


async def until(check: Callable[[], bool], timeout: float = 20.0, router: Router | None = None):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        if router is not None:
            router.wake()
        await asyncio.sleep(0.05)


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def api_call(base: str, method: str, path: str, who: str | None = None, **kwargs):
    headers = auth(who) if who else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.request(method, base + path, headers=headers, timeout=10, **kwargs)


async def api_async(base: str, method: str, path: str, who: str | None = None, **kwargs):
    headers = auth(who) if who else {}
    headers.update(kwargs.pop("headers", {}))
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.request(method, base + path, headers=headers, **kwargs)
