"""The decision the retrain service's tick makes per model, pure (no clock, no Kafka): launch
a run now with the pending triggers merged, wait until a given instant, or do nothing.

The rules, in order:

1. no pending trigger of an enabled kind, or no launcher: nothing;
2. a run in flight: nothing (at most one per model; what arrives merges into the next);
3. after a run ends, the next waits ``cooldown_s``; after ``n`` failed runs in a row it
   waits ``max(cooldown_s, min(backoff_s * 2 ** (n - 1), backoff_max_s))`` (600 s, 1200 s,
   2400 s, ... capped at a day by default), so a broken pipeline is not hammered;
4. debounce: the run starts ``debounce_s`` after the first pending trigger, so a burst of
   triggers is one run. A manual trigger skips the debounce and the backoff (a person who
   fixed the pipeline asks for a run now) but not the cooldown.

>>> from services.retrain.policy import LocalLauncher, RetrainPolicy
>>> policy = RetrainPolicy(launcher=LocalLauncher(("python", "train.py")))
>>> state = ModelState()
>>> for i in range(10):  # ten identical drift requests
...     state = add(state, Trigger("drift", "psi 0.31 on amount", "fraud:3:drift:0", 1_000 + i))
>>> len(state.pending), gate(policy, state, 2_000)
(1, Decision(action='wait', wait_until_ms=301000, why='debounce'))
>>> decision = gate(policy, state, 301_000)
>>> decision.action, decision.reasons, decision.dedup_keys
('launch', ('drift: psi 0.31 on amount',), ('fraud:3:drift:0',))
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .policy import Approval, RetrainPolicy


@dataclass(frozen=True)
class Trigger:
    """One reason to retrain: ``kind`` is drift, performance, schedule, new_data or manual;
    the same ``dedup_key`` is the same incident (a pipeline runs once per key)."""

    kind: str
    reason: str
    dedup_key: str
    at_ms: int
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InFlight:
    run_id: str
    started_ms: int
    dedup_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ModelState:
    """What the service knows of one model: the run in flight, when the last run ended,
    how many runs failed in a row since the last success, the triggers waiting."""

    in_flight: InFlight | None = None
    last_ended_ms: int | None = None
    failures: int = 0
    pending: tuple[Trigger, ...] = ()


@dataclass(frozen=True)
class Decision:
    """``launch`` (with ``triggers``, their ``reasons`` and ``dedup_keys``), ``wait`` (until
    ``wait_until_ms``: the tick may sleep until then) or ``nothing``; ``why`` in words."""

    action: str
    triggers: tuple[Trigger, ...] = field(default=(), repr=False)
    wait_until_ms: int | None = None
    why: str = ""

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f"{t.kind}: {t.reason}" for t in self.triggers)

    @property
    def dedup_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.dedup_key for t in self.triggers if t.dedup_key))


def accept(state: ModelState, trigger: Trigger) -> bool:
    """False when the trigger's dedup key is already taken by a pending trigger or the run
    in flight: the same incident merges into the run that addresses it (drop it, or note
    it on that run's timeline). An empty key is always new.

    >>> state = ModelState(in_flight=InFlight("fraud-7", 0, frozenset({"k1"})))
    >>> [accept(state, Trigger("drift", "psi 0.3", key, 5)) for key in ("k1", "k2")]
    [False, True]
    """
    if not trigger.dedup_key:
        return True
    if state.in_flight is not None and trigger.dedup_key in state.in_flight.dedup_keys:
        return False
    return all(p.dedup_key != trigger.dedup_key for p in state.pending)


def add(state: ModelState, trigger: Trigger) -> ModelState:
    """The state with the trigger pending, when :func:`accept` takes it."""
    return replace(state, pending=(*state.pending, trigger)) if accept(state, trigger) else state


def backoff_ms(policy: RetrainPolicy, failures: int) -> int:
    """How long after a run ends the next may start, given the failures in a row.

    >>> from services.retrain.policy import RetrainPolicy
    >>> p = RetrainPolicy(cooldown_s=900, backoff_s=600, backoff_max_s=3600)
    >>> [backoff_ms(p, n) // 1000 for n in range(6)]
    [900, 900, 1200, 2400, 3600, 3600]
    """
    wait = policy.cooldown_s
    if failures > 0:
        # 2 ** n overflows nothing in Python, but min() first keeps the float finite.
        steps = min(failures - 1, 64)
        wait = max(wait, min(policy.backoff_s * 2**steps, policy.backoff_max_s))
    return int(wait * 1000)


def gate(policy: RetrainPolicy, state: ModelState, now_ms: int) -> Decision:
    """What to do now for one model (the rules in the module's docstring)."""
    triggers = tuple(t for t in state.pending if policy.triggers.enabled(t.kind))
    if not triggers:
        why = "no pending trigger" if not state.pending else "pending triggers are disabled"
        return Decision("nothing", why=why)
    if policy.launcher is None:
        return Decision("nothing", why="no launcher configured")
    if state.in_flight is not None:
        return Decision("nothing", why=f"run {state.in_flight.run_id} in flight")
    manual = any(t.kind == "manual" for t in triggers)
    ready, why = now_ms, ""
    if state.last_ended_ms is not None:
        failures = 0 if manual else state.failures
        after_end = state.last_ended_ms + backoff_ms(policy, failures)
        if after_end > ready:
            ready = after_end
            why = f"backoff after {failures} failed runs" if failures else "cooldown"
    if not manual:
        debounced = min(t.at_ms for t in triggers) + int(policy.debounce_s * 1000)
        if debounced > ready:
            ready, why = debounced, "debounce"
    if ready > now_ms:
        return Decision("wait", wait_until_ms=ready, why=why)
    return Decision("launch", triggers=triggers, why=f"{len(triggers)} trigger(s)")


def auto_approve(
    approval: Approval,
    passed: bool,
    candidate: dict[str, float],
    champion: dict[str, float],
    higher_is_better: dict[str, bool] | None = None,
) -> tuple[bool, str]:
    """Whether ``approval`` approves on its own, and why (the record's text). ``margin``
    deltas count in each metric's better direction (log_loss: lower by at least delta).

    >>> from services.retrain.policy import Approval
    >>> auto = Approval(mode="auto", margin={"auc": 0.01, "log_loss": 0.0})
    >>> auto_approve(auto, True, {"auc": 0.93, "log_loss": 0.30}, {"auc": 0.91, "log_loss": 0.31})
    (True, 'auc +0.02 >= 0.01; log_loss -0.01 better by >= 0')
    >>> auto_approve(auto, True, {"auc": 0.915, "log_loss": 0.3}, {"auc": 0.91, "log_loss": 0.3})
    (False, 'auc +0.005 < 0.01: a person decides')
    """
    from watchkeeper.gates.metrics import HIGHER_IS_BETTER

    directions = HIGHER_IS_BETTER if higher_is_better is None else higher_is_better
    if approval.mode != "auto":
        return False, "approval is manual"
    if not passed:
        return False, "validation did not pass: a person decides"
    notes = []
    for metric, delta in approval.margin.items():
        if metric not in candidate or metric not in champion:
            return False, f"{metric} unknown for the candidate or the champion: a person decides"
        change = candidate[metric] - champion[metric]
        better = change if directions.get(metric, True) else -change
        shown = f"{metric} {change:+.4g}"
        if better < delta - 1e-12:
            return False, f"{shown} < {delta:g}: a person decides"
        notes.append(f"{shown} >= {delta:g}" if directions.get(metric, True) else
                     f"{shown} better by >= {delta:g}")  # fmt: skip
    return True, "; ".join(notes) or "validation passed"
