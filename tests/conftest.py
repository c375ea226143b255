"""Shared fixtures: a real Kafka for the session, unique topic prefixes, service processes.

The broker is, in order of preference:

1. ``KAFKA_BOOTSTRAP_SERVERS`` when set (nothing is started or stopped);
2. the local single-node broker from ``deploy/kafka``, started on free ports in a
   temporary folder and stopped when the session ends;
3. additionally, where a Docker engine answers, the same tests run again against
   ``docker-compose.yml`` through pytest-docker; elsewhere that variant is skipped and
   says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchkeeper import topic_admin
from watchkeeper.local_kafka import LocalKafka
from watchkeeper.ports import free_port
from watchkeeper.settings import KafkaSettings

from .helpers import ServiceProcess

REPO = Path(__file__).resolve().parent.parent
DOCKER_BOOTSTRAP = "127.0.0.1:29092"
# The LocalKafka this session started, by bootstrap address (none when external).
SESSION_BROKERS: dict[str, LocalKafka] = {}


def _docker_engine() -> str | None:
    """None if a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker info failed: {exc}"
    if result.returncode != 0:
        return "the docker client is here but no Docker engine answers (docker info failed)"
    return None


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(REPO / "docker-compose.yml")


def _kafka_reachable(bootstrap: str) -> bool:
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=3)
        return True
    except Exception:
        return False


@pytest.fixture(scope="session", params=["local", "docker"])
def kafka_bootstrap(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if request.param == "docker":
        if external:
            pytest.skip("KAFKA_BOOTSTRAP_SERVERS is set: the tests run against that cluster only")
        why = _docker_engine()
        if why:
            pytest.skip(f"docker-compose variant skipped: {why}")
        services = request.getfixturevalue("docker_services")
        services.wait_until_responsive(
            check=lambda: _kafka_reachable(DOCKER_BOOTSTRAP), timeout=120.0, pause=1.0
        )
        yield DOCKER_BOOTSTRAP
        return
    if external:
        yield external
        return
    home = tmp_path_factory.mktemp("kafka")
    broker = LocalKafka(home=home, port=free_port(), controller_port=free_port())
    bootstrap = broker.up(timeout=120)
    SESSION_BROKERS[bootstrap] = broker
    try:
        yield bootstrap
    finally:
        broker.down()


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def prefix(kafka_settings: KafkaSettings) -> Iterator[str]:
    """A fresh topic prefix per test, with every declared topic created under it."""
    value = f"t{uuid.uuid4().hex[:10]}."
    topic_admin.apply(kafka_settings, prefix=value)
    yield value
    topic_admin.delete_prefixed(kafka_settings, value)


@pytest.fixture
def start_service(kafka_bootstrap: str, tmp_path: Path):
    started: list[ServiceProcess] = []

    def start(module: str, prefix: str, **env: str) -> ServiceProcess:
        service = ServiceProcess(
            module,
            {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "WK_TOPIC_PREFIX": prefix, **env},
            tmp_path / f"{module.rsplit('.', 1)[-1]}-{len(started)}.log",
        )
        started.append(service)
        service.wait_healthy()
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture(scope="session")
def mlflow_servers(tmp_path_factory):
    """Fresh real ``mlflow server`` processes on demand (``.new()`` -> URL); see
    tests/mlflow_support.py. Imported lazily: most tests never start one."""
    from .mlflow_support import mlflow_servers_for_session

    yield from mlflow_servers_for_session(tmp_path_factory)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker of this test's own, for tests that kill, freeze or cut it: the session's
    must not go away under other tests."""
    kafka = LocalKafka(home=tmp_path / "kafka", port=free_port(), controller_port=free_port())
    kafka.up(timeout=120)
    yield kafka
    kafka.down()
