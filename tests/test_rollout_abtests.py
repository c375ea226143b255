"""A/B tests on a real broker with real SDKs: the split is followed by emitter.assign,
conversions arrive as feedback; a known effect is decided for the right variant, an A/A
test reaches its deadline without a verdict, and a broken split stops as a sample ratio
mismatch."""

from __future__ import annotations

import random
import threading

import pytest

from watchkeeper.sdk import Emitter

from .rollout_support import api, start_rollout, wait_state

pytestmark = pytest.mark.kafka


def spec(deadline_s: float = 300) -> dict:
    return {
        "model": "shop",
        "strategy": "ab",
        "variants": [
            {"name": "A", "version": "1", "weight": 50},
            {"name": "B", "version": "2", "weight": 50},
        ],
        "experiment": {"primary": {"metric": "conversion", "mde": 0.05}, "min_samples": 200,
                       "deadline_s": deadline_s},
        "feedback_metrics": [{"name": "conversion", "field": "label", "positive": "yes"}],
    }  # fmt: skip


class Shoppers:
    """Users served by the version the SDK assigns; each converts at its version's rate,
    reported as feedback. ``forced`` ignores the split (a broken assignment)."""

    def __init__(self, settings, prefix, rates, forced=None, seed=5):
        self.emitter = Emitter(settings, prefix=prefix, buffer_size=100_000)
        self.rates, self.forced = rates, forced
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.emitter.wait_for_routing(30)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        self.emitter.close(5)

    def _run(self):
        n = 0
        while not self.stop.is_set():
            user = f"u{self.rng.randrange(10**9)}"
            if self.forced:
                variant = "A" if self.rng.random() < self.forced else "B"
                placed = {"version": {"A": "1", "B": "2"}[variant], "variant": variant}
            else:
                placed = {"assignment": self.emitter.assign("shop", user, default_version="1")}
            event = self.emitter.prediction(model="shop", latency_ms=5.0, user_id=user, **placed)
            version = placed["assignment"].version if "assignment" in placed else placed["version"]
            bought = self.rng.random() < self.rates[version]
            self.emitter.feedback(event_id=event, model="shop", label="yes" if bought else "no")
            n += 1
            if n % 200 == 0:
                self.stop.wait(0.01)  # a pace for the traffic, not a synchronisation


def test_a_known_effect_is_decided_for_the_better_variant(start_service, kafka_settings, prefix):
    rollout = start_rollout(start_service, prefix)
    rid = api(rollout).write("POST", "/api/v1/rollouts", spec())["id"]
    with Shoppers(kafka_settings, prefix, {"1": 0.10, "2": 0.20}):
        done = wait_state(rollout, rid)
    assert done["state"] == "concluded", done["timeline"][-1]
    verdict = api(rollout, "reader").get(f"/api/v1/rollouts/{rid}/verdict")["verdict"]
    assert (verdict["state"], verdict["winner"]) == ("decided", "B")
    b = next(v for v in verdict["variants"] if v["name"] == "B")["primary"]
    low, high = b["interval"]
    assert 0 < low < 0.10 < high  # the true effect, inside the always-valid interval


def test_an_aa_test_reaches_its_deadline_without_a_verdict(start_service, kafka_settings, prefix):
    rollout = start_rollout(start_service, prefix)
    rid = api(rollout).write("POST", "/api/v1/rollouts", spec(deadline_s=15))["id"]
    with Shoppers(kafka_settings, prefix, {"1": 0.10, "2": 0.10}):
        done = wait_state(rollout, rid)
    assert done["state"] == "concluded"
    assert done["verdict"]["state"] == "deadline" and done["verdict"]["winner"] is None
    a, b = done["verdict"]["variants"]
    assert min(a["exposures"], b["exposures"]) > 200  # it had traffic, and no verdict


def test_a_sample_ratio_mismatch_stops_the_test(start_service, kafka_settings, prefix):
    rollout = start_rollout(start_service, prefix)
    rid = api(rollout).write("POST", "/api/v1/rollouts", spec())["id"]
    with Shoppers(kafka_settings, prefix, {"1": 0.10, "2": 0.10}, forced=0.6):
        done = wait_state(rollout, rid)
    assert done["state"] == "stopped"
    assert done["verdict"]["state"] == "srm" and done["verdict"]["srm_p_value"] < 0.001
    routing = api(rollout, "reader").get("/api/v1/routing/shop")
    assert [(v["name"], v["version"]) for v in routing["variants"]] == [("default", "1")]
