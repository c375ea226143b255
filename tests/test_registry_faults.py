"""kill -9 of the registry mid-stream of commands: after the restart the state is the
same as a clean replay, and no command was applied twice or lost."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.registry_support import TOKENS, registry_env
from watchkeeper.clients import ApiError, RegistryClient
from watchkeeper.devstack import ServiceProcess

pytestmark = [pytest.mark.kafka, pytest.mark.faults]
MODELS = 60


def commands() -> list[tuple[str, dict]]:
    """(idempotency key, call): each model, then two versions of it."""
    plan = []
    for m in range(MODELS):
        plan.append((f"model-{m}", {"op": "create_model", "name": f"m{m}", "owner_team": "t"}))
        for v in (1, 2):
            call = {"op": "register_version", "model": f"m{m}", "version": f"{v}.0"}
            plan.append((f"version-{m}-{v}", {**call, "metrics": {"auc": v / 10}}))
    return plan


def send(rc: RegistryClient, key: str, call: dict, deadline: float) -> dict:
    """The call, with the same key, until the service answers (it is down while restarting)."""
    args = dict(call)
    op = getattr(rc, args.pop("op"))
    while True:
        try:
            return op(**args, idempotency_key=key)
        except ApiError as exc:
            if exc.status != 503 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # the service is restarting: a backoff, not a synchronisation


def test_kill_9_mid_stream_applies_every_command_once(kafka_bootstrap, prefix, tmp_path) -> None:
    env = registry_env(kafka_bootstrap, prefix, tmp_path)
    service = ServiceProcess("services.registry", env, tmp_path / "registry.log", restart=True)
    try:
        service.wait_healthy()
        rc = RegistryClient(service.url, TOKENS["writer"], retries=1)
        plan = commands()
        done: list[dict] = []
        failures: list[BaseException] = []

        def drive() -> None:
            deadline = time.monotonic() + 240
            try:
                for key, call in plan:
                    done.append(send(rc, key, call, deadline))
            except BaseException as exc:  # reported by the test below
                failures.append(exc)

        driver = threading.Thread(target=drive)
        driver.start()
        for kill_at in (40, 110):
            deadline = time.monotonic() + 120
            while len(done) < kill_at and driver.is_alive() and time.monotonic() < deadline:
                time.sleep(0.01)  # polling the driver's progress
            service.kill()
            service.wait_healthy(120)
        driver.join(300)
        assert not failures, failures
        assert len(done) == len(plan)
        assert len(service.restarts) == 2
        admin = RegistryClient(service.url, TOKENS["admin"])
        first = admin.dump()
        assert first["events"] == len(plan)
        assert len(first["answers"]) == len(plan)
        assert sum(1 for k in first["entities"] if k.startswith("model:")) == MODELS
        assert sum(1 for k in first["entities"] if k.startswith("version:")) == 2 * MODELS
        for m in (0, MODELS // 2, MODELS - 1):
            assert len(rc.history("model", f"m{m}")["events"]) == 1
    finally:
        service.stop()
    again = ServiceProcess("services.registry", env, tmp_path / "registry-2.log")
    try:
        again.wait_healthy()
        assert RegistryClient(again.url, TOKENS["admin"]).dump() == first
        ready = [json.loads(line) for line in again.logs().splitlines() if '"ready"' in line]
        assert [r["events"] for r in ready] == [len(plan)]  # the replay, as logged
    finally:
        again.stop()
