"""From per-request outcomes of the two arms to a canary step's check observations.

``CanaryAnalysis`` owns a ``Step`` and turns what the arms' requests did into the numbers
its checks compare (``canary - baseline``, always-valid intervals, see ``canary``):

``error_rate``
    1 when the status is not ``OK``, else 0: the difference of the error rates.
``latency_pNN`` (``latency_p50``, ``latency_p99``, any ``pNN``)
    1 when the request took longer than the baseline's running ``NN``-th percentile, else
    0. The percentile comes from a DDSketch of the baseline's latencies so far
    (``services.slo.sketch``); each request is scored against the threshold *before* its
    own latency enters the sketch, and both arms are scored against the same current
    threshold. The threshold depends on the past only, so under the null (both arms draw
    from one distribution) each request of either arm exceeds it with the same
    probability, whatever the threshold is: the two exceedance rates are equal and the
    mixture SPRT on their difference keeps its level. A canary whose p99 is 30 % higher
    exceeds the baseline's p99 three times as often (lognormal latencies of sigma 0.55:
    3.2 % instead of 1 %), which is what the check sees. Its margin is in exceedance
    points: ``margin=0.01`` on ``latency_p99`` lets the canary exceed the baseline's p99
    on up to 2 % of requests.
``score_drift``
    The baseline's score distribution is fixed from its first ``drift_reference_n``
    scores; each later score of either arm becomes its rank in that reference,
    ``u = F_ref(score)`` in [0, 1] (mid-rank for ties). Under the null both arms' ``u``
    have the same distribution, so the difference of their means is 0; it equals
    ``P(canary score > reference score) - P(baseline score > reference score)``, the
    Mann-Whitney probability of superiority, and any shift of the canary's scores up or
    down moves it. It is a two-sided check (a drift either way is a change of the model's
    behaviour). Its blind spot is a change of spread at an unchanged centre; a check of
    ``score_drift`` is a location test of the prediction distribution, on the same
    always-valid footing as the others. Scores before the reference is full count for
    neither arm.
any other name declared in ``metrics``
    a value per observation from ``observe_metric(arm, name, value)`` (a quality score, a
    business metric joined from feedback).

A check on a metric nobody emits (not one of the above, not declared) is a ValueError at
construction: the service answers it with a 400.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> analysis = CanaryAnalysis(
...     [Check("error_rate", margin=0.01), Check("latency_p99", margin=0.01)],
...     min_samples=500, deadline_s=3600,
... )
>>> for second in range(1, 3601):
...     for arm, slower in (("baseline", 1.0), ("canary", 1.3)):
...         latencies = rng.lognormal(np.log(100.0), 0.55, 100) * slower
...         analysis.observe_many(arm, rng.random(100) >= 0.005, latencies)
...     verdict = analysis.decide(elapsed_s=second)
...     if verdict.action != "wait":
...         break
>>> verdict.action, verdict.check, second
('rollback', 'latency_p99', 11)
>>> view = analysis.snapshot()["checks"]["latency_p99"]
>>> view["n"], round(view["estimate"], 3), view["state"]
({'baseline': 1000, 'canary': 1100}, 0.022, 'worse')
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from services.slo.sketch import DDSketch

from .canary import Check, Step, Verdict

ARMS = ("baseline", "canary")
_LATENCY = re.compile(r"latency_p(\d{1,2}(?:\.\d+)?)$")


def latency_quantile(metric: str) -> float | None:
    """The quantile a ``latency_pNN`` check reads, None for another metric.

    >>> latency_quantile("latency_p99"), latency_quantile("latency_p50"), latency_quantile("x")
    (0.99, 0.5, None)
    """
    match = _LATENCY.match(metric)
    if match is None:
        return None
    q = float(match.group(1)) / 100.0
    return q if 0.0 < q < 1.0 else None


class CanaryAnalysis:
    """A canary step's checks fed from per-request outcomes of ``baseline`` and ``canary``.

    ``checks`` and the keyword settings are the ``Step``'s; ``metrics`` names the other
    numeric metrics the service emits (fed through ``observe_metric``); ``score_drift``
    checks default to ``two_sided``.
    """

    def __init__(
        self,
        checks: Sequence[Check],
        *,
        metrics: Iterable[str] = (),
        quantile_accuracy: float = 0.01,
        drift_reference_n: int = 1000,
        **step_settings: Any,
    ) -> None:
        declared = set(metrics)
        fixed = []
        self._quantiles: dict[str, float] = {}
        for check in checks:
            q = latency_quantile(check.metric)
            if q is not None:
                self._quantiles[check.metric] = q
            elif check.metric == "score_drift":
                check = Check(check.metric, check.margin, check.tau2, False, True)
            elif check.metric != "error_rate" and check.metric not in declared:
                raise ValueError(
                    f"a check on a metric nobody emits: {check.metric!r} (error_rate, "
                    f"latency_pNN, score_drift or one of the declared metrics "
                    f"{sorted(declared)})"
                )
            fixed.append(check)
        self.step = Step(fixed, **step_settings)
        self._metrics = {c.metric for c in fixed}
        self._declared = declared
        self._sketch = DDSketch(relative_accuracy=quantile_accuracy)
        self._reference_n = drift_reference_n
        self._reference: list[float] = []
        self._reference_ready = False

    # -- observing ----------------------------------------------------------------------

    def observe(self, arm: str, status: str, latency_ms: float, score: float | None = None):
        """One request of ``arm``: its status (``OK`` or not), latency and model score."""
        self.observe_many(arm, [status == "OK"], [latency_ms], None if score is None else [score])

    def observe_many(
        self,
        arm: str,
        ok: Sequence[bool],
        latency_ms: Sequence[float],
        scores: Sequence[float] | None = None,
    ) -> None:
        """A batch of ``arm``'s requests (a second of them): whether each succeeded, its
        latency, its score. Latencies are scored against the thresholds as they stand
        before the batch; the baseline's then enter the sketch."""
        if arm not in ARMS:
            raise ValueError(f"arm is baseline or canary, not {arm!r}")
        ok_arr = np.asarray(ok, dtype=bool)
        lat = np.asarray(latency_ms, dtype=float)
        if ok_arr.shape != lat.shape:
            raise ValueError("one status per latency")
        n = int(lat.size)
        if n == 0:
            return
        if "error_rate" in self._metrics:
            self._add_binary("error_rate", arm, n, int(n - ok_arr.sum()))
        if self._sketch.count:
            for metric, q in self._quantiles.items():
                threshold = self._sketch.quantile(q)
                self._add_binary(metric, arm, n, int((lat > threshold).sum()))
        if arm == "baseline" and self._quantiles:
            self._sketch.add_many(lat.tolist())
        if scores is not None and "score_drift" in self._metrics:
            self._observe_scores(arm, np.asarray(scores, dtype=float))

    def observe_metric(self, arm: str, name: str, value: float) -> None:
        """One observation of a declared metric (lower is better unless its check says)."""
        if name not in self._declared:
            raise ValueError(
                f"{name!r} is not one of the declared metrics {sorted(self._declared)}"
            )
        self.step.observe(name, arm, float(value))

    def _add_binary(self, metric: str, arm: str, n: int, ones: int) -> None:
        mean = ones / n
        self.step.observe_summary(metric, arm, n, mean, ones * (1.0 - mean))

    def _observe_scores(self, arm: str, scores: np.ndarray) -> None:
        if not self._reference_ready:
            if arm == "baseline":
                self._reference.extend(scores.tolist())
                if len(self._reference) >= self._reference_n:
                    self._reference.sort()
                    self._reference_ready = True
            return
        ref = self._reference
        # Mid-rank: ties with the reference count half, so a discrete score stays centred.
        low = np.fromiter((bisect_left(ref, s) for s in scores), float, scores.size)
        high = np.fromiter((bisect_right(ref, s) for s in scores), float, scores.size)
        u = (low + high) / (2.0 * len(ref))
        mean = float(u.mean())
        self.step.observe_summary(
            "score_drift", arm, int(u.size), mean, float(((u - mean) ** 2).sum())
        )

    # -- deciding -----------------------------------------------------------------------

    def decide(self, elapsed_s: float) -> Verdict:
        verdict = self.step.decide(elapsed_s)
        q = self._quantiles.get(verdict.check)
        if verdict.action == "rollback" and q is not None and verdict.interval is not None:
            # An exceedance rate is not a unit anyone reads: say it in requests and ms.
            low, high = verdict.interval
            threshold = self._sketch.quantile(q)
            reason = (
                f"{verdict.check}: {100 * low:.1f} to {100 * high:.1f} more of every 100 "
                f"canary requests are slower than the baseline's p{100 * q:g} "
                f"({threshold:.0f} ms) (always-valid {1 - self.step.alpha:.0%} interval)"
            )
            return Verdict(verdict.action, reason, verdict.check, verdict.interval)
        return verdict

    def snapshot(self) -> dict[str, Any]:
        """JSON-able: per check, n per arm, the estimate of ``canary - baseline``, its
        always-valid interval and state (``worse``, ``within_margin``, ``waiting``)."""
        checks = {}
        for check in self.step.checks:
            test = self.step.comparison(check.metric)
            # The step compares signed values (higher_is_better flipped): positive is worse.
            low, high = test.interval(self.step.alpha)
            worse = low > 0 or (check.two_sided and high < 0)
            inside = high < check.margin and (not check.two_sided or low > -check.margin)
            sign = -1.0 if check.higher_is_better else 1.0
            ends = sorted((sign * low, sign * high))
            checks[check.metric] = {
                "n": {"baseline": test.a.n, "canary": test.b.n},
                "estimate": sign * test.difference if test.a.n and test.b.n else None,
                "interval": [_finite(ends[0]), _finite(ends[1])],
                "margin": check.margin,
                "state": "worse" if worse else "within_margin" if inside else "waiting",
            }
        thresholds = {m: self._sketch.quantile(q) for m, q in self._quantiles.items()}
        return {"checks": checks, "baseline_thresholds_ms": thresholds}


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
