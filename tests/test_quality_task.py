"""The quality task without Kafka, on an injected clock: windows, the four checks, the gate
with its hysteresis, silence of models and sources, duplicates, restore."""

from __future__ import annotations

import itertools

import pytest

from services.quality.config import QualityConfig
from services.quality.contract import load_text, parse
from services.quality.dedup import RecentIds
from services.quality.gateroutes import answer, routes
from services.quality.task import QualityTask
from watchkeeper.codec import Codec
from watchkeeper.kit import Request
from watchkeeper.settings import ServiceSettings

CODEC = Codec()
T0 = 1_767_225_600_000  # a round minute
EXAMPLE = CODEC.registry.examples("PredictionEvent")["fraud_ok"]
SCHEMAS = {"quality-reports": "QualityReport", "gates": "GateState", "alerts": "Alert"}
CONTRACTS = """
defaults:
  window: 10s
  min_events: 5
  for: 2
  recover: 2
  max_age: 1m
  silence: 5m
  source_silence: 2m
  source_by: tenant
contracts:
  fraud:
    gate: fraud-training
    fields:
      features.amount: {type: number, required: true, min: 0}
      features.channel: {type: string, allowed: [web, app]}
"""
_ids = itertools.count()


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000.0


def make_task(clock: Clock, contracts: str = CONTRACTS, **overrides) -> QualityTask:
    config = QualityConfig(service=ServiceSettings(name="quality"), grace_ms=1000, **overrides)
    return QualityTask(0, config, parse(load_text(contracts, "q.yaml")), CODEC, clock)


def prediction(t_ms: int, amount: float | None = 10.0, **changes) -> dict:
    num = dict(EXAMPLE["num_features"])
    if amount is None:
        del num["amount"]
    else:
        num["amount"] = amount
    record = {**EXAMPLE, "event_id": f"e{next(_ids)}", "event_time_ms": t_ms, "num_features": num}
    record.update(changes)
    return record


class Recorder:
    """Drains a task after every step and keeps what it published, decoded."""

    def __init__(self, task: QualityTask, clock: Clock) -> None:
        self.task, self.clock = task, clock
        self.out: dict[str, list[dict]] = {t: [] for t in SCHEMAS}
        self.changelog: list[tuple[bytes, bytes | None]] = []

    def events(self, records: list[dict], lag_ms: int = 50) -> None:
        for record in records:
            self.clock.ms = max(self.clock.ms, record["event_time_ms"] + lag_ms)
            self.task.process("predictions", record)
        self.tick()

    def tick(self, now_ms: int | None = None) -> None:
        if now_ms is not None:
            self.clock.ms = now_ms
        self.task.tick(self.clock.ms)
        outputs, changes = self.task.drain()
        self.changelog += changes
        for output in outputs:
            self.out[output.topic].append(CODEC.decode_as(SCHEMAS[output.topic], output.value))

    def window(self, start: int, n: int = 10, **kw) -> None:
        """``n`` events spread over the 10 s window at ``start``."""
        self.events([prediction(start + i * 900, **kw) for i in range(n)])

    def gates(self) -> list[tuple[str, str]]:
        return [(g["gate"], g["state"]) for g in self.out["gates"]]

    def alerts(self, name: str | None = None, scope: str = "any") -> list[tuple[str, dict]]:
        """Alerts published (status, labels); scope "model" leaves out per-source ones."""
        return [
            (a["status"], a["labels"])
            for a in self.out["alerts"]
            if (name is None or a["labels"]["alertname"] == name)
            and (scope == "any" or "source" not in a["labels"])
        ]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def test_a_required_field_going_missing_blocks_the_gate_and_recovery_unblocks_it(clock) -> None:
    run = Recorder(make_task(clock), clock)
    run.window(T0)
    run.window(T0 + 10_000)  # closes the first window: the gate becomes known, unblocked
    assert run.gates() == [("fraud-training", "UNBLOCKED")]
    assert run.alerts() == []
    run.window(T0 + 20_000, amount=None)  # closes the second (complete) window
    run.window(T0 + 30_000, amount=None)  # first bad window closed: for=2, not yet
    assert run.gates() == [("fraud-training", "UNBLOCKED")]
    run.window(T0 + 40_000)  # second bad window closed: blocked
    assert run.gates()[-1] == ("fraud-training", "BLOCKED")
    blocked = run.out["gates"][-1]
    assert blocked["reasons"][0]["check"] == "completeness"
    assert blocked["reasons"][0]["value"] == 0.0
    assert "features.amount missing in 100.0% of events" in blocked["reasons"][0]["detail"]
    assert blocked["window_start_ms"] == T0 + 30_000
    ((status, labels),) = run.alerts("QualityGateBlocked")
    assert status == "FIRING" and labels["gate"] == "fraud-training"
    run.window(T0 + 50_000)  # the first good window closes: recover=2, still blocked
    assert run.gates()[-1] == ("fraud-training", "BLOCKED") and len(run.gates()) == 2
    run.window(T0 + 60_000)  # the second good window closes: unblocked
    assert run.gates()[-1] == ("fraud-training", "UNBLOCKED")
    assert [s for s, _ in run.alerts("QualityGateBlocked")] == ["FIRING", "RESOLVED"]
    resolved = run.out["alerts"][-1]
    assert resolved["starts_at_ms"] == blocked["since_ms"]  # the same incident, start to end
    reports = run.out["quality-reports"]
    assert [r["completeness"] for r in reports] == [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert [r["gate_state"] for r in reports][-3:] == ["BLOCKED", "BLOCKED", "UNBLOCKED"]


def test_one_bad_window_does_not_block_and_small_windows_are_not_judged(clock) -> None:
    run = Recorder(make_task(clock), clock)
    run.window(T0)
    run.window(T0 + 10_000, amount=None)
    run.window(T0 + 20_000)
    run.window(T0 + 30_000, n=3, amount=None)  # below min_events: no verdict
    run.window(T0 + 40_000)
    run.window(T0 + 50_000)
    assert {state for _, state in run.gates()} == {"UNBLOCKED"}
    reports = run.out["quality-reports"]
    assert [r["judged"] for r in reports] == [True, True, True, False, True]
    assert reports[3]["completeness"] == 0.0 and reports[3]["events"] == 3


def test_accuracy_consistency_and_freshness_each_block(clock) -> None:
    contracts = CONTRACTS.replace("for: 2", "for: 1").replace("recover: 2", "recover: 1")
    run = Recorder(make_task(clock, contracts), clock)
    run.window(T0)
    run.window(T0 + 10_000, amount=-1.0)  # out of range
    run.window(T0 + 20_000)
    twice = []  # every event id twice
    for i in range(10):
        record = prediction(T0 + 30_000 + i * 900)
        twice += [record, dict(record)]
    run.events(twice)
    run.window(T0 + 40_000)
    # Then events arriving 2 minutes after their event time (max_age 1m).
    run.events([prediction(T0 + 50_000 + i * 900) for i in range(10)], lag_ms=120_000)
    run.window(T0 + 60_000)
    assert [state for _, state in run.gates()] == [
        "UNBLOCKED",
        "BLOCKED",
        "UNBLOCKED",
        "BLOCKED",
        "UNBLOCKED",
        "BLOCKED",
    ]
    reasons = [g["reasons"] for g in run.out["gates"]]
    assert [r[0]["check"] for r in reasons if r] == ["accuracy", "consistency", "freshness"]
    reports = run.out["quality-reports"]
    assert reports[1]["accuracy"] == 0.0 and reports[1]["fields"][0]["invalid"] == 10
    assert reports[3]["duplicates"] == 10 and reports[3]["consistency"] == 0.5
    assert "duplicate ids 10" in reasons[3][0]["detail"]
    assert reports[5]["stale"] == 10 and reports[5]["freshness"] == 0.0
    assert reports[5]["lag_max_ms"] >= 120_000
    assert [s for s, _ in run.alerts("QualityGateBlocked")] == ["FIRING", "RESOLVED"] * 2 + [
        "FIRING"
    ]


def test_late_events_still_count_and_future_events_are_inconsistent(clock) -> None:
    run = Recorder(make_task(clock), clock)
    run.window(T0)
    run.window(T0 + 10_000)
    run.window(T0 + 20_000)  # the windows at T0 and T0+10s are closed now
    run.events([prediction(T0 + 5_000, amount=None)])  # late: counted in the open window
    far = clock.ms + 3_600_000
    run.task.process("predictions", prediction(far))  # an hour ahead of the clock
    run.window(T0 + 30_000)
    report = run.out["quality-reports"][2]
    assert report["window_start_ms"] == T0 + 20_000
    assert report["late"] == 1 and report["events"] == 12
    assert report["future"] == 1
    assert report["fields"][0]["missing"] == 1
    assert run.task.stream_ms < far  # a future event does not close every window


def test_a_silent_model_alerts_and_blocks_until_it_speaks_again(clock) -> None:
    run = Recorder(make_task(clock), clock)
    run.window(T0)
    run.window(T0 + 10_000)
    last = clock.ms
    run.tick(last + 299_000)
    assert run.alerts("DataSilent", scope="model") == []
    run.tick(last + 300_000)
    ((status, labels),) = run.alerts("DataSilent", scope="model")
    assert status == "FIRING" and labels["model"] == "fraud"
    assert run.gates()[-1] == ("fraud-training", "BLOCKED")
    assert run.out["gates"][-1]["reasons"][-1]["check"] == "silence"
    run.tick(last + 600_000)
    assert len(run.alerts("DataSilent", scope="model")) == 1  # once per silence
    run.events([prediction(clock.ms)])
    assert [s for s, _ in run.alerts("DataSilent", scope="model")] == ["FIRING", "RESOLVED"]
    assert run.gates()[-1] == ("fraud-training", "UNBLOCKED")
    resolved = [a for a in run.out["alerts"] if a["status"] == "RESOLVED"]
    assert resolved[0]["starts_at_ms"] == last  # the silence began at the last event


def test_a_silent_source_alerts_once_and_the_others_do_not(clock) -> None:
    contracts = CONTRACTS.replace("silence: 5m", "silence: 1h")
    run = Recorder(make_task(clock, contracts), clock)
    for step in range(20):  # both sources for 20 s, then only acme
        t = T0 + step * 1000
        run.events([prediction(t, tenant="acme"), prediction(t, tenant="globex")])
    for step in range(20, 150):
        run.events([prediction(T0 + step * 1000, tenant="acme")])
    silent = [labels for s, labels in run.alerts("DataSilent") if s == "FIRING"]
    assert [labels["source"] for labels in silent] == ["globex"]
    assert silent[0]["model"] == "fraud"
    assert run.task.models["fraud"].gate.blocked is False  # a source's silence only alerts
    run.events([prediction(clock.ms, tenant="globex")])
    assert [s for s, _ in run.alerts("DataSilent")] == ["FIRING", "RESOLVED"]


def test_a_source_gone_for_good_is_forgotten_and_its_alert_closed(clock) -> None:
    contracts = CONTRACTS.replace("silence: 5m", "silence: 1000h")
    run = Recorder(make_task(clock, contracts, source_forget_ms=3_600_000), clock)
    run.events([prediction(T0, tenant="old")])
    run.tick(T0 + 130_000)
    run.tick(T0 + 3_700_000)
    assert [s for s, _ in run.alerts("DataSilent")] == ["FIRING", "RESOLVED"]
    assert "forgotten" in run.out["alerts"][-1]["annotations"]["summary"]
    assert "old" not in run.task.models["fraud"].sources


def test_silence_counts_from_the_restart_not_from_before_it(clock) -> None:
    run = Recorder(make_task(clock), clock)
    run.window(T0)
    clock.ms += 3_600_000  # the service was down for an hour
    restarted = Recorder(make_task(clock), clock)
    for key, value in run.changelog:
        restarted.task.restore(key, value)
    restarted.task.restored()
    restarted.tick()
    assert restarted.alerts("DataSilent") == []
    restarted.tick(clock.ms + 300_000)
    assert [s for s, _ in restarted.alerts("DataSilent", scope="model")] == ["FIRING"]


def test_restored_task_continues_exactly_like_the_uninterrupted_one(clock) -> None:
    def scenario(run: Recorder, start: int, stop: int) -> None:
        for w in range(start, stop):
            run.window(T0 + w * 10_000, amount=None if w in (3, 4, 5) else 10.0)

    whole = Recorder(make_task(clock), clock)
    scenario(whole, 0, 9)
    clock2 = Clock(T0)
    first = Recorder(make_task(clock2), clock2)
    scenario(first, 0, 4)
    second = Recorder(make_task(clock2), clock2)
    for key, value in first.changelog:
        second.task.restore(key, value)
    second.task.restored()
    scenario(second, 4, 9)
    assert first.gates() + second.gates() == whole.gates()
    assert first.alerts() + second.alerts() == whole.alerts()
    strip = lambda reports: [{**r, "emitted_at_ms": 0} for r in reports]  # noqa: E731
    assert strip(first.out["quality-reports"] + second.out["quality-reports"]) == strip(
        whole.out["quality-reports"]
    )


def test_an_id_seen_before_a_restart_is_a_duplicate_after_it(clock) -> None:
    first = Recorder(make_task(clock), clock)
    first.events([prediction(T0, event_id="dup-1")])
    second = Recorder(make_task(clock), clock)
    for key, value in first.changelog:
        second.task.restore(key, value)
    second.task.restored()
    second.events([prediction(T0 + 100, event_id="dup-1")])
    assert second.task.models["fraud"].windows[T0].duplicates == 1


def test_a_restored_task_does_not_take_its_backlog_for_late_events(clock) -> None:
    first = Recorder(make_task(clock), clock)
    first.window(T0)
    clock.ms += 3_600_000  # down for an hour; the hour's events wait in Kafka
    second = Recorder(make_task(clock), clock)
    for key, value in first.changelog:
        second.task.restore(key, value)
    second.task.restored()
    second.tick()  # the first fetch came back empty: no idle advance yet
    assert second.task.stream_ms < T0 + 10_000
    second.task.process("predictions", prediction(T0 + 10_000))
    assert second.task.models["fraud"].windows[T0 + 10_000].late == 0


def test_recent_ids_stay_bounded_and_restore_exactly() -> None:
    ids = RecentIds(max_ids=1000, horizon_ms=10**9)
    changelog: dict[bytes, bytes | None] = {}
    for i in range(5000):
        assert ids.seen(f"id-{i}", stream_ms=i) is False
        if i % 300 == 0:
            changelog.update(ids.changes())
    changelog.update(ids.changes())
    assert len(ids) <= 1000
    restored = RecentIds(max_ids=1000, horizon_ms=10**9)
    for key, value in changelog.items():
        restored.restore(key, value)
    restored.finish_restore()
    assert (restored.current, restored.previous) == (ids.current, ids.previous)
    # Old generations are tombstoned: the live records hold exactly the ids kept.
    live = sum(len(v) for k, v in changelog.items() if v is not None and k != b"d\x00meta")
    assert live == 8 * len(ids)
    for recent in (ids, restored):
        assert recent.seen("id-4999", 5000) and recent.seen("id-4600", 5000)  # the last 500
        assert not recent.seen("id-10", 5000)  # long forgotten


def test_recent_ids_forget_by_stream_time() -> None:
    ids = RecentIds(max_ids=10**6, horizon_ms=60_000)
    ids.seen("a", stream_ms=0)
    assert ids.seen("a", stream_ms=29_000)
    ids.seen("b", stream_ms=31_000)  # a's generation is 31 s old: becomes the previous one
    assert ids.seen("a", stream_ms=40_000)
    ids.seen("c", stream_ms=62_000)  # and now it is dropped
    assert not ids.seen("a", stream_ms=62_000)


def test_models_beyond_the_cap_are_counted_not_checked(clock) -> None:
    run = Recorder(make_task(clock, max_models=2), clock)
    run.events([prediction(T0, model=m) for m in ("a", "b", "c")])
    assert sorted(run.task.models) == ["a", "b"]


class FakeView:
    def __init__(self, gates: dict, ready: bool = True) -> None:
        import threading

        self.gates = gates
        self.ready = threading.Event()
        if ready:
            self.ready.set()

    def get(self, name: str):
        return self.gates.get(name)


def test_gate_answers_for_pipelines() -> None:
    blocked, unblocked = (CODEC.registry.examples("GateState")[k] for k in ("blocked", "unblocked"))
    view = FakeView({"fraud-training": blocked, "recsys": {**unblocked, "gate": "recsys"}})
    status, body = answer(view, "/gate/fraud-training")
    assert status == 423 and body["state"] == "blocked"
    assert body["reasons"][0]["check"] == "completeness"
    assert answer(view, "/gate/recsys")[0] == 200
    assert answer(view, "/gate/nope") == (
        404,
        {"gate": "nope", "state": "unknown", "reason": "no verdict for this gate yet"},
    )
    assert answer(view, "/gate/fraud%2Dtraining")[0] == 423  # URL-encoded names
    assert answer(view, "/gates")[1]["recsys"]["state"] == "unblocked"
    assert answer(FakeView({}, ready=False), "/gate/recsys")[0] == 503


def test_the_gate_routes_answer_post_as_get() -> None:
    view = FakeView({"fraud-training": CODEC.registry.examples("GateState")["blocked"]})
    gate, listing = routes(view)
    path = "/gate/fraud-training"
    hook = b'{"name": "fraud", "namespace": "ml", "phase": "Progressing", "metadata": {}}'
    got = gate.handle(Request("GET", path, rest="fraud-training"))
    posted = gate.handle(Request("POST", path, body=hook, rest="fraud-training"))
    assert (posted.status, posted.body) == (got.status, got.body) == answer(view, path)
    assert got.status == 423
    assert gate.handle(Request("GET", "/gate/", rest="")).status == 404
    assert listing.matches("GET", "/gates") and not listing.matches("POST", "/gates")
