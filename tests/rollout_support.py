"""Starting the rollout service (beside a real registry) for tests, and driving traffic."""

from __future__ import annotations

import random
import threading
import time
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
    seen: list[dict] = [{}]

    def reached():
        seen[0] = c.get(f"/api/v1/rollouts/{rid}")
        return seen[0]["state"] in states and seen[0]

    try:
        return wait_for(reached, timeout, f"rollout {rid} in {sorted(states)}")
    except AssertionError as exc:
        last = {k: seen[0].get(k) for k in ("state", "step", "analysis", "timeline")}
        raise AssertionError(f"{exc}; last seen: {last}") from None


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
    """Requests of random users through ``sdks`` real SDKs until stopped: each asks
    ``emitter.assign`` which version serves the user and emits the prediction with that
    assignment (errors at the rate of the version served). Every SDK keeps what it sent:
    (time ms, version, split seq)."""

    def __init__(self, kafka_settings, prefix, model, error_rates, sdks=3, seed=1,
                 default_version="1", latency_ms=None):  # fmt: skip
        self.emitters = [
            Emitter(kafka_settings, prefix=prefix, buffer_size=100_000, client_id=f"sdk-{i}")
            for i in range(sdks)
        ]
        self.model, self.error_rates, self.default = model, error_rates, default_version
        self.latency_ms = latency_ms or {}
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.sent: list[list[tuple[int, str, int]]] = [[] for _ in self.emitters]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        for emitter in self.emitters:
            emitter.wait_for_routing(30)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        for emitter in self.emitters:
            emitter.close(5)

    def _run(self):
        n = 0
        while not self.stop.is_set():
            for i, emitter in enumerate(self.emitters):
                user = f"user-{self.rng.randrange(1_000_000)}"
                chosen = emitter.assign(self.model, user, default_version=self.default)
                bad = self.rng.random() < self.error_rates.get(chosen.version, 0.0)
                base = self.latency_ms.get(chosen.version, 10.0)
                emitter.prediction(assignment=chosen, latency_ms=base * (1 + self.rng.random()),
                                   status="ERROR" if bad else "OK", user_id=user)  # fmt: skip
                self.sent[i].append((int(time.time() * 1000), chosen.version, chosen.seq))
                n += 1
            if n % 300 == 0:
                self.stop.wait(0.01)  # a pace for the traffic, not a synchronisation

    def switched_at(self, seq: int) -> list[int]:
        """When each SDK first served with a split of at least ``seq`` (ms)."""
        return [next(t for t, _, s in sent if s >= seq) for sent in self.sent]

    def sent_after(self, seq: int, version: str) -> list[int]:
        """Requests each SDK served with ``version`` once it had a split of ``seq``."""
        return [sum(1 for _, v, s in sent if s >= seq and v == version) for sent in self.sent]
