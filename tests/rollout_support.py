"""Starting the rollout service (beside a real registry) for tests, and driving traffic."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from watchkeeper.control.client import Client
from watchkeeper.devstack import ServiceProcess
from watchkeeper.runtime import compacted
from watchkeeper.sdk import Emitter
from watchkeeper.sdk._assignment import Split
from watchkeeper.settings import KafkaSettings

from .helpers import wait_for
from .registry_support import TOKEN_TABLE, TOKENS, client, start_registry

TERMINAL = {"promoted", "rolled_back", "aborted", "completed", "concluded", "stopped"}


def start_rollout(start_service, prefix: str, registry: ServiceProcess | None = None,
                  **env: str) -> ServiceProcess:  # fmt: skip
    extra = {"WK_ROLLOUT_TICK_S": "0.2", **env}
    if registry is not None:
        extra.update(
            WK_ROLLOUT_REGISTRY_URL=registry.url, WK_ROLLOUT_REGISTRY_TOKEN=TOKENS["writer"]
        )
    return start_service("services.rollout", prefix, WK_ROLLOUT_API_TOKENS=TOKEN_TABLE, **extra)


def api(service: ServiceProcess, who: str = "writer") -> Client:
    return Client(service.url, TOKENS[who])


def registry_with(start_service, prefix: str, tmp_path: Path, model: str, champion: str,
                  *others: str) -> ServiceProcess:  # fmt: skip
    """A registry holding ``model`` with its versions, ``champion`` validated and aliased."""
    registry = start_registry(start_service, prefix, tmp_path)
    reg = client(registry)
    reg.create_model(model)
    for version in (champion, *others):
        reg.register_version(model, version, metrics={"auc": 0.9})
    reg.record_validation(model, champion, True, {"auc": 0.9}, "test")
    reg.set_alias(model, "champion", champion, reason="first")
    return registry


def wait_state(service: ServiceProcess, rid: str, states=TERMINAL, timeout: float = 120.0):
    c = api(service, "reader")
    return wait_for(
        lambda: (r := c.get(f"/api/v1/rollouts/{rid}"))["state"] in states and r,
        timeout,
        f"rollout {rid} in {sorted(states)}",
    )


def splits(settings: KafkaSettings, topic: str) -> dict[str, Split]:
    """The newest split of each model on the routing topic, read to its end."""
    found: dict[str, Split] = {}
    for record in compacted.read(settings, topic, 30.0):
        if record.value is not None:
            found[record.key.decode()] = Split.from_json(record.value)
    return found


CANARY = {
    "model": "fraud",
    "strategy": "canary",
    "baseline": "1",
    "candidate": "2",
    "steps": [50, 100],
    "checks": [{"metric": "error_rate", "margin": 0.02}],
    "analysis": {"min_samples": 300, "deadline_s": 120},
}


class Traffic:
    """Predictions for both arms of a canary until stopped (errors at the given rates)."""

    def __init__(self, kafka_settings, prefix, model, versions, error_rates, seed=1):
        self.emitter = Emitter(kafka_settings, prefix=prefix, buffer_size=100_000)
        self.model, self.versions, self.error_rates = model, versions, error_rates
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        self.emitter.close(5)

    def _run(self):
        while not self.stop.is_set():
            for variant, version in self.versions.items():
                bad = self.rng.random() < self.error_rates[variant]
                self.emitter.prediction(model=self.model, version=version, variant=variant,
                                        latency_ms=10 + self.rng.random(),
                                        status="ERROR" if bad else "OK")  # fmt: skip
                self.sent += 1
            if self.sent % 200 == 0:
                self.stop.wait(0.01)  # a pace for the traffic, not a synchronisation
