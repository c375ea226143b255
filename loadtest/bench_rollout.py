"""rollout: our canary analysis beside Flagger's rule on simulated traffic.

At 1, 10 and 1,000 requests/s, 1,000 good canaries (the baseline's behaviour) and 1,000
bad ones (half with errors +2 points, 0.5 % -> 2.5 %; half with every latency +30 %, so
p99 +30 %) are each decided by our analysis (``services.rollout.signals.CanaryAnalysis``:
``error_rate`` and ``latency_p99`` checks, margins 1 point and 1 exceedance point) and by
Flagger's analysis (``loadtest/flagger_rule.py``: interval 1m, threshold 5, stepWeight 10,
maxWeight 50, success rate >= 99 %, p99 <= 400 ms, i.e. the baseline's p99 of 359 ms plus
about 10 %). Traffic is simulated with numpy as per-window aggregates (Poisson counts per
arm, binomial errors, lognormal latencies of median 100 ms and sigma 0.55), both analyses
on the same levels, distributions and seeds.

Settings of ours per level (``LEVELS``): the canary's share, the window it is fed and
decided in, ``min_samples``, ``deadline_s`` and ``on_deadline``. The deadline is the
horizon for both: a Flagger canary still waiting then is a halt.

Writes ``loadtest/results/rollout.json``: per level ("1", "10", "1000") false_promote_rate,
false_rollback_rate, halt_rate, median_decision_s and the same prefixed ``flagger_``; the
1 req/s figures also at top level; ``aa_false_positive_rate``,
``naive_aa_false_positive_rate`` (``loadtest/rollout_aa.py``) and
``routing_propagation_p99_ms`` (``loadtest/routing_propagation.py``) when those modules
are there.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import numpy as np

from services.rollout.canary import Check
from services.rollout.signals import CanaryAnalysis
from watchkeeper.settings import KafkaSettings

from . import routing_propagation
from .flagger_rule import FlaggerRule
from .harness import percentile, table, write_results
from .rollout_aa import aa_rates
from .throughput import fresh_prefix

GOOD = BAD = 1000
BASE_ERROR = 0.005
BAD_ERROR = 0.025
MEDIAN_MS, SIGMA = 100.0, 0.55
SLOWER = 1.3
FLAGGER_MAX_P99_MS = 400.0


@dataclass(frozen=True)
class Level:
    rate: int  # requests/s to the service, both arms together
    canary_share: float
    window_s: int
    min_samples: int
    deadline_s: int
    on_deadline: str
    alpha: float = 0.05


# Why these: at 1,000 req/s a 10 % canary gathers the ~2,000 samples a check needs to
# clear its margin in about 20 s; at 10 and 1 req/s a 10 % canary would need hours, so the
# step splits half and half (more users see the canary, for far less time) and waits up
# to an hour, or six hours at 1 req/s, where about 4,400 s of traffic is what it takes.
# on_deadline is rollback: a canary that could not be cleared is not promoted (none is
# left undecided by these deadlines). alpha 0.01: at 0.05 the two checks rolled back 1.5
# to 3.5 % of good canaries (200 per level), above the 1 % goal; 0.01 costs a third more
# time at 1 and 10 req/s.
LEVELS = (
    Level(1, 0.5, 60, 500, 21_600, "rollback", alpha=0.01),
    Level(10, 0.5, 10, 500, 3_600, "rollback", alpha=0.01),
    Level(1000, 0.1, 1, 500, 600, "rollback", alpha=0.01),
)


def _latencies(rng: np.random.Generator, n: int, factor: float) -> np.ndarray:
    return rng.lognormal(math.log(MEDIAN_MS), SIGMA, n) * factor


def kind_of(index: int) -> tuple[str, float, float]:
    """(kind, canary error rate, canary latency factor) of canary ``index``."""
    if index < GOOD:
        return "good", BASE_ERROR, 1.0
    if index < GOOD + BAD // 2:
        return "errors", BAD_ERROR, 1.0
    return "slow", BASE_ERROR, SLOWER


def ours(level: Level, seed: int, error: float, factor: float) -> tuple[str, float]:
    rng = np.random.default_rng(seed)
    analysis = CanaryAnalysis(
        [Check("error_rate", margin=0.01), Check("latency_p99", margin=0.01)],
        min_samples=level.min_samples,
        deadline_s=level.deadline_s,
        on_deadline=level.on_deadline,
        alpha=level.alpha,
    )
    arms = (
        ("baseline", level.rate * (1 - level.canary_share), BASE_ERROR, 1.0),
        ("canary", level.rate * level.canary_share, error, factor),
    )
    for elapsed in range(level.window_s, level.deadline_s + level.window_s, level.window_s):
        for arm, rate, p_error, slower in arms:
            n = int(rng.poisson(rate * level.window_s))
            analysis.observe_many(arm, rng.random(n) >= p_error, _latencies(rng, n, slower))
        verdict = analysis.decide(elapsed_s=elapsed)
        if verdict.action != "wait":
            return ("promote" if verdict.action == "advance" else "rollback"), float(elapsed)
    return "halt", float(level.deadline_s)


def flagger(level: Level, seed: int, error: float, factor: float) -> tuple[str, float]:
    rng = np.random.default_rng(seed)
    rule = FlaggerRule(max_p99_ms=FLAGGER_MAX_P99_MS)
    ticks = int(level.deadline_s // rule.interval_s)
    for tick in range(1, ticks + 1):
        n = int(rng.poisson(level.rate * rule.weight / 100.0 * rule.interval_s))
        errors = int(rng.binomial(n, error)) if n else 0
        p99 = None
        if n:
            ordered = np.sort(_latencies(rng, n, factor))
            p99 = float(ordered[max(math.ceil(0.99 * n) - 1, 0)])  # nearest rank
        action = rule.tick(n, errors, p99)
        if action != "wait":
            return action, tick * rule.interval_s
    return "halt", float(level.deadline_s)


def rates(outcomes: list[tuple[str, str, float]]) -> dict[str, float]:
    good = [a for k, a, _ in outcomes if k == "good"]
    bad = [a for k, a, _ in outcomes if k != "good"]
    decided = [s for _, a, s in outcomes if a != "halt"]
    return {
        "false_promote_rate": bad.count("promote") / len(bad),
        "false_rollback_rate": good.count("rollback") / len(good),
        "halt_rate": sum(a == "halt" for _, a, _ in outcomes) / len(outcomes),
        "median_decision_s": statistics.median(decided) if decided else math.nan,
    }


def measure_level(level: Level) -> dict[str, float]:
    mine, theirs = [], []
    for index in range(GOOD + BAD):
        kind, error, factor = kind_of(index)
        seed = 1_000_003 * level.rate + index
        mine.append((kind, *ours(level, seed, error, factor)))
        theirs.append((kind, *flagger(level, seed, error, factor)))
    figures = rates(mine)
    figures.update({f"flagger_{k}": v for k, v in rates(theirs).items()})
    for kind in ("errors", "slow"):
        bad = [a for k, a, _ in mine if k == kind]
        figures[f"false_promote_rate_{kind}"] = bad.count("promote") / len(bad)
        bad = [a for k, a, _ in theirs if k == kind]
        figures[f"flagger_false_promote_rate_{kind}"] = bad.count("promote") / len(bad)
    return figures


def _aa_and_routing(bootstrap: str | None, figures: dict) -> None:
    """1,000 A/A tests read at every look (ours against a peeked t-test), and a weight
    change's way to every SDK's assignment over a real broker."""
    figures["aa_false_positive_rate"], figures["naive_aa_false_positive_rate"] = aa_rates(
        tests=1000, looks=100
    )
    if bootstrap is None:
        print("   no Kafka: routing_propagation_p99_ms omitted")
        return
    prefix = fresh_prefix(KafkaSettings(bootstrap_servers=bootstrap))
    samples = routing_propagation.measure(bootstrap, prefix, sdks=10, changes=100)
    figures["routing_propagation_p50_ms"] = percentile(samples, 0.5)
    figures["routing_propagation_p99_ms"] = percentile(samples, 0.99)


def run(kafka_bootstrap: str | None = None) -> dict:
    results: dict = {}
    rows = []
    for level in LEVELS:
        start = time.monotonic()
        figures = measure_level(level)
        results[str(level.rate)] = figures
        for who, prefix in (("ours", ""), ("flagger", "flagger_")):
            rows.append(
                [
                    f"{level.rate:,} req/s",
                    who,
                    f"{100 * figures[prefix + 'false_promote_rate']:.1f} %",
                    f"{100 * figures[prefix + 'false_rollback_rate']:.1f} %",
                    f"{100 * figures[prefix + 'halt_rate']:.1f} %",
                    f"{figures[prefix + 'median_decision_s']:,.0f}",
                ]
            )
        print(f"   {level.rate} req/s: {time.monotonic() - start:.0f} s")
    results.update({k: v for k, v in results["1"].items()})
    _aa_and_routing(kafka_bootstrap, results)
    print(
        table(
            f"rollout: {GOOD:,} good and {BAD:,} bad canaries per level (errors +2 points or "
            "p99 +30 %); goals: false promote <= 5 %, false rollback <= 1 %, no halt",
            ["traffic", "analysis", "false promote", "false rollback", "halt", "median s"],
            rows,
        )
    )
    print(
        f"A/A tests read at every one of 100 looks: ours "
        f"{100 * results['aa_false_positive_rate']:.1f} % false positives, a peeked t-test "
        f"{100 * results['naive_aa_false_positive_rate']:.1f} % (goal <= 5 %)"
    )
    if "routing_propagation_p99_ms" in results:
        print(
            f"a weight change to every one of 10 SDKs' assignment: p50 "
            f"{results['routing_propagation_p50_ms']:.0f} ms, p99 "
            f"{results['routing_propagation_p99_ms']:.0f} ms (goal < 1,000 ms)"
        )
    print(f"-> {write_results('rollout', results)}")
    return results
