"""Flagger's canary analysis (progressive traffic shifting), from its documentation and
its scheduler, as the baseline the rollout benchmark compares our analysis with.

Every ``interval`` Flagger runs the metric checks on the canary's traffic of that
interval -- request success rate ``>= min_success_rate`` (%), request duration p99
``<= max_p99_ms`` -- and:

- the first tick only routes ``step_weight`` % of the traffic to the canary (no check:
  it has no traffic yet);
- a failed check increments the failed-checks counter and holds the weight; the counter
  is never reset by a passing check (the scheduler only resets it on a new revision);
- at the start of a tick, ``failed >= threshold`` -> **rollback**;
- a passing check moves the weight up by ``step_weight``; a passing check at
  ``max_weight`` -> **promote** (so ``max_weight / step_weight`` passing checks after the
  first tick: 5 minutes at the documented 1m / 10 / 50);
- a query with no values (no canary request in the interval): "Halt advancement no
  values found for metric ... probably ... is not receiving traffic": the weight holds
  and, here by default, no failure is counted, so a canary that never gets traffic never
  decides (a halt until someone looks). ``no_values_fail=True`` counts it as a failed
  check instead, which is what ``pkg/controller/scheduler.go`` does with any
  ``runAnalysis`` false (a zero-traffic canary is then rolled back after ``threshold``
  intervals).

>>> rule = FlaggerRule()
>>> [rule.tick(600, 1, 120.0) for _ in range(7)]
['wait', 'wait', 'wait', 'wait', 'wait', 'promote', 'promote']
>>> rule = FlaggerRule()
>>> [rule.tick(600, 30, 120.0) for _ in range(7)][-2:], rule.failed
(['wait', 'rollback'], 5)
>>> rule = FlaggerRule()
>>> {rule.tick(0, 0, None) for _ in range(100)}, rule.weight, rule.failed
({'wait'}, 10, 0)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FlaggerRule:
    interval_s: float = 60.0
    threshold: int = 5
    step_weight: int = 10
    max_weight: int = 50
    min_success_rate: float = 99.0
    max_p99_ms: float = 500.0
    no_values_fail: bool = False
    weight: int = 0
    failed: int = 0
    decision: str = "wait"

    def __post_init__(self) -> None:
        if not 0 < self.step_weight <= self.max_weight <= 100:
            raise ValueError("0 < step_weight <= max_weight <= 100")
        if self.threshold < 1 or self.interval_s <= 0:
            raise ValueError("threshold >= 1 and interval_s > 0")

    def tick(self, requests: int, errors: int, p99_ms: float | None) -> str:
        """One interval of the canary's traffic: its request count, its errors (5xx) and
        its p99 latency (None without requests). Returns wait, promote or rollback (and
        keeps returning a decision once made)."""
        if self.decision != "wait":
            return self.decision
        if self.failed >= self.threshold:
            self.decision = "rollback"
            return self.decision
        if self.weight == 0:
            self.weight = self.step_weight
            return "wait"
        if requests == 0 or p99_ms is None:
            if self.no_values_fail:
                self.failed += 1
            return "wait"
        success = 100.0 * (requests - errors) / requests
        if success < self.min_success_rate or p99_ms > self.max_p99_ms:
            self.failed += 1
            return "wait"
        if self.weight < self.max_weight:
            self.weight = min(self.weight + self.step_weight, self.max_weight)
            return "wait"
        self.decision = "promote"
        return self.decision
