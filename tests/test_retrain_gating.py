"""The retrain tick's decision per model (services/retrain/gating.py): merging, debounce,
cooldown, backoff, and the auto-approval margin."""

from dataclasses import replace

from services.retrain.gating import (
    Decision,
    InFlight,
    ModelState,
    Trigger,
    accept,
    add,
    auto_approve,
    gate,
)
from services.retrain.policy import Approval, LocalLauncher, RetrainPolicy, Triggers
from services.retrain.schedule import Schedule, due

S = 1000  # ms per second
POLICY = RetrainPolicy(
    launcher=LocalLauncher(("python", "train.py")),
    debounce_s=300,
    cooldown_s=3600,
    backoff_s=600,
    backoff_max_s=3000,
)


def drift(key: str, at_ms: int, reason: str = "psi 0.31 on amount") -> Trigger:
    return Trigger("drift", reason, key, at_ms, {"statistic": "psi"})


def launched(state: ModelState, decision: Decision, run_id: str, now_ms: int) -> ModelState:
    """What the service does with a launch: the run takes the triggers' keys."""
    keys = frozenset(decision.dedup_keys)
    rest = tuple(t for t in state.pending if t not in decision.triggers)
    return replace(state, in_flight=InFlight(run_id, now_ms, keys), pending=rest)


def ended(state: ModelState, now_ms: int, failed: bool) -> ModelState:
    failures = state.failures + 1 if failed else 0
    return replace(state, in_flight=None, last_ended_ms=now_ms, failures=failures)


def test_ten_identical_requests_make_one_run():
    state = ModelState()
    for i in range(10):
        state = add(state, drift("fraud:3:drift:0", 1_000 + i * S))
    assert len(state.pending) == 1
    assert gate(POLICY, state, 2_000) == Decision("wait", wait_until_ms=301_000, why="debounce")
    decision = gate(POLICY, state, 301_000)
    assert decision.action == "launch"
    assert decision.dedup_keys == ("fraud:3:drift:0",)
    state = launched(state, decision, "fraud-1", 301_000)
    # The same incident again while its run is in flight: merged, not a second run.
    assert not accept(state, drift("fraud:3:drift:0", 400_000))
    assert add(state, drift("fraud:3:drift:0", 400_000)).pending == ()
    assert gate(POLICY, state, 500_000).action == "nothing"


def test_burst_of_distinct_triggers_is_one_run_with_every_reason():
    state = ModelState()
    for i in range(5):
        state = add(state, drift(f"k{i}", i * 60 * S, f"psi on feature {i}"))
    assert gate(POLICY, state, 299 * S).action == "wait"
    decision = gate(POLICY, state, 300 * S)
    assert decision.action == "launch"
    assert decision.reasons == tuple(f"drift: psi on feature {i}" for i in range(5))
    assert decision.dedup_keys == ("k0", "k1", "k2", "k3", "k4")


def test_trigger_during_a_run_waits_for_the_cooldown_and_keeps_every_reason():
    state = launched(ModelState(), Decision("launch"), "fraud-1", 0)
    state = add(state, drift("a", 10 * S, "psi on amount"))
    state = add(state, Trigger("performance", "accuracy 0.81 < 0.85", "b", 20 * S))
    assert gate(POLICY, state, 30 * S) == Decision("nothing", why="run fraud-1 in flight")
    state = ended(state, 1_000 * S, failed=False)
    waiting = gate(POLICY, state, 1_001 * S)
    assert waiting == Decision("wait", wait_until_ms=4_600 * S, why="cooldown")
    decision = gate(POLICY, state, 4_600 * S)
    assert decision.action == "launch"
    assert decision.reasons == ("drift: psi on amount", "performance: accuracy 0.81 < 0.85")


def test_backoff_after_failed_runs_is_exponential_and_capped():
    state = ModelState()
    waits = []
    for failures in range(1, 6):
        state = add(replace(state, failures=failures, last_ended_ms=0), drift(f"k{failures}", 0))
        decision = gate(replace(POLICY, cooldown_s=300), state, 1)
        waits.append(decision.wait_until_ms // S)
        assert decision.why == f"backoff after {failures} failed runs"
    assert waits == [600, 1200, 2400, 3000, 3000]
    # A success resets it: the cooldown alone.
    state = ended(replace(state, failures=3), 0, failed=False)
    assert gate(POLICY, state, 1) == Decision("wait", wait_until_ms=3_600 * S, why="cooldown")


def test_a_failure_keeps_the_next_trigger_waiting_until_the_backoff():
    policy = replace(POLICY, cooldown_s=0, debounce_s=0)
    state = ended(launched(ModelState(), Decision("launch"), "fraud-1", 0), 100 * S, failed=True)
    state = add(state, drift("x", 150 * S))
    assert gate(policy, state, 150 * S).wait_until_ms == 700 * S
    assert gate(policy, state, 700 * S).action == "launch"


def test_manual_skips_debounce_and_backoff_not_cooldown():
    fresh = add(ModelState(), Trigger("manual", "alice: new features", "m1", 5 * S))
    assert gate(POLICY, fresh, 5 * S).action == "launch"
    failing = add(ModelState(last_ended_ms=0, failures=4), Trigger("manual", "retry", "m2", 0))
    assert gate(POLICY, failing, 1) == Decision("wait", wait_until_ms=3_600 * S, why="cooldown")


def test_schedule_and_drift_merge_into_one_run():
    weekly = Schedule("0 3 * * 1", "Europe/Paris")
    sunday = 1_774_785_600_000  # 2026-03-29T12:00Z
    fired = due(weekly, sunday, sunday + 86_400_000)
    assert fired == 1_774_832_400_000  # Monday 03:00 CEST
    state = add(ModelState(), Trigger("schedule", "0 3 * * 1 Europe/Paris", f"s:{fired}", fired))
    state = add(state, drift("fraud:3:drift:1", fired + 60 * S))
    policy = replace(POLICY, triggers=Triggers(schedule=weekly))
    assert gate(policy, state, fired + 299 * S).action == "wait"
    decision = gate(policy, state, fired + 300 * S)
    assert decision.action == "launch"
    assert [t.kind for t in decision.triggers] == ["schedule", "drift"]
    assert decision.dedup_keys == (f"s:{fired}", "fraud:3:drift:1")


def test_disabled_kinds_and_no_launcher_do_nothing():
    state = add(ModelState(), drift("k", 0))
    off = replace(POLICY, triggers=Triggers(drift=False))
    assert gate(off, state, 10**9) == Decision("nothing", why="pending triggers are disabled")
    assert gate(RetrainPolicy(), state, 10**9) == Decision("nothing", why="no launcher configured")
    assert gate(POLICY, ModelState(), 10**9) == Decision("nothing", why="no pending trigger")


def test_empty_dedup_key_is_always_new():
    state = add(add(ModelState(), drift("", 0)), drift("", 1))
    assert len(state.pending) == 2
    assert gate(POLICY, state, 300 * S).dedup_keys == ()


def test_auto_approval_margin():
    auto = Approval(mode="auto", margin={"auc": 0.01})
    better, worse = {"auc": 0.93}, {"auc": 0.915}
    champion = {"auc": 0.91}
    assert auto_approve(auto, True, better, champion)[0] is True
    assert auto_approve(auto, True, worse, champion) == (
        False,
        "auc +0.005 < 0.01: a person decides",
    )
    assert (
        auto_approve(auto, False, better, champion)[1]
        == "validation did not pass: a person decides"
    )
    assert auto_approve(Approval(), True, better, champion) == (False, "approval is manual")
    assert auto_approve(auto, True, {}, champion)[0] is False
    lower = Approval(mode="auto", margin={"log_loss": 0.01})
    assert auto_approve(lower, True, {"log_loss": 0.30}, {"log_loss": 0.32})[0] is True
    assert auto_approve(lower, True, {"log_loss": 0.32}, {"log_loss": 0.30})[0] is False
    assert auto_approve(Approval(mode="auto"), True, {}, {}) == (True, "validation passed")
