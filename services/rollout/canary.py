"""A canary step decided on the stream: each check compares the canary with the baseline
on an always-valid confidence sequence of their difference, so it may be read after every
window without inflating false decisions.

For each check (a metric where lower is better: error rate, latency; flip the sign for a
higher-is-better one) the difference ``canary - baseline`` has an interval that holds at
all times with probability ``1 - alpha``:

- its lower end above 0: the canary is worse, with evidence -> **roll back**;
- its upper end below the check's ``margin``: the canary is no worse than the margin
  allows -> the check **passes**;
- otherwise -> **wait** for evidence.

A step advances when every check passed, after at least ``min_samples`` per side and
``min_duration_s``. With little traffic the intervals stay wide and the step waits; at
the step's deadline ``on_deadline`` decides (``rollback``, the default, or ``advance``
when no check has shown harm) -- never a halt forever, never a promotion on no data.

>>> from random import Random
>>> rng = Random(7)
>>> step = Step([Check("error_rate", margin=0.01)], min_samples=200, deadline_s=600)
>>> for second in range(120):
...     for _ in range(20):
...         step.observe("error_rate", "baseline", float(rng.random() < 0.01))
...         step.observe("error_rate", "canary", float(rng.random() < 0.03))
...     verdict = step.decide(elapsed_s=second)
...     if verdict.action != "wait":
...         break
>>> verdict.action, verdict.check, second < 120
('rollback', 'error_rate', True)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .sequential import MeanComparison

ACTIONS = ("wait", "advance", "rollback")


@dataclass(frozen=True)
class Check:
    metric: str
    margin: float  # how much worse the canary may be and still pass (metric's units)
    tau2: float | None = None  # the mixture's prior variance; default: margin squared
    higher_is_better: bool = False
    # A change either way is harm (a prediction distribution moving up or down): roll back
    # when the interval excludes 0 on either side, pass when it lies within +-margin.
    two_sided: bool = False


@dataclass(frozen=True)
class Verdict:
    action: str
    reason: str
    check: str = ""
    interval: tuple[float, float] | None = None


@dataclass
class Step:
    checks: list[Check]
    min_samples: int = 100
    min_duration_s: float = 0.0
    deadline_s: float = 900.0
    on_deadline: str = "rollback"
    alpha: float = 0.05
    _tests: dict[str, MeanComparison] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.checks:
            raise ValueError("a step needs at least one check")
        if self.on_deadline not in ("rollback", "advance"):
            raise ValueError(f"on_deadline is rollback or advance, not {self.on_deadline!r}")
        for check in self.checks:
            if check.margin <= 0:
                raise ValueError(f"{check.metric}: the margin must be above 0")
            tau2 = check.tau2 if check.tau2 is not None else check.margin**2
            self._tests[check.metric] = MeanComparison(tau2=tau2, min_n=self.min_samples)

    def observe(self, metric: str, variant: str, value: float) -> None:
        """One observation of ``metric`` for ``baseline`` or ``canary``."""
        test = self._tests.get(metric)
        if test is None:
            return  # a metric no check reads
        check = next(c for c in self.checks if c.metric == metric)
        signed = -value if check.higher_is_better else value
        if variant == "canary":
            test.add_b(signed)
        elif variant == "baseline":
            test.add_a(signed)
        else:
            raise ValueError(f"variant is baseline or canary, not {variant!r}")

    def observe_summary(self, metric: str, variant: str, n: int, mean: float, m2: float) -> None:
        """A batch of ``n`` observations of ``metric`` (a second's aggregate) as their mean
        and sum of squared deviations ``m2``: the same interval as observing each."""
        test = self._tests.get(metric)
        if test is None:
            return
        check = next(c for c in self.checks if c.metric == metric)
        signed = -mean if check.higher_is_better else mean
        if variant == "canary":
            test.add_summary_b(n, signed, m2)
        elif variant == "baseline":
            test.add_summary_a(n, signed, m2)
        else:
            raise ValueError(f"variant is baseline or canary, not {variant!r}")

    def comparison(self, metric: str) -> MeanComparison:
        """The running comparison behind ``metric``'s check (KeyError for no such check)."""
        return self._tests[metric]

    def samples(self) -> Iterable[tuple[str, int, int]]:
        return ((m, t.a.n, t.b.n) for m, t in self._tests.items())

    def decide(self, elapsed_s: float) -> Verdict:
        passed = []
        for check in self.checks:
            test = self._tests[check.metric]
            low, high = test.interval(self.alpha)
            if check.two_sided and high < 0:
                return Verdict(
                    "rollback",
                    f"{check.metric}: the canary differs from the baseline by "
                    f"{low:.4g} to {high:.4g} (always-valid {1 - self.alpha:.0%} interval)",
                    check.metric,
                    (low, high),
                )
            if low > 0:
                return Verdict(
                    "rollback",
                    f"{check.metric}: the canary is worse than the baseline by "
                    f"{low:.4g} to {high:.4g} (always-valid {1 - self.alpha:.0%} interval)",
                    check.metric,
                    (low, high),
                )
            if high < check.margin and (not check.two_sided or low > -check.margin):
                passed.append(check.metric)
        enough = all(min(a, b) >= self.min_samples for _, a, b in self.samples())
        if len(passed) == len(self.checks) and enough and elapsed_s >= self.min_duration_s:
            return Verdict("advance", f"every check within its margin: {', '.join(passed)}")
        if elapsed_s >= self.deadline_s:
            counts = ", ".join(f"{m} {a}/{b}" for m, a, b in self.samples())
            return Verdict(
                self.on_deadline,
                f"deadline {self.deadline_s:g} s reached without evidence either way "
                f"(samples baseline/canary: {counts}); on_deadline: {self.on_deadline}",
            )
        return Verdict("wait", "gathering evidence")
