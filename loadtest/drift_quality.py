"""Drift quality: how fast ``services/drift`` sees a known change, how often it misses one,
how often it cries wolf, beside Evidently's drift tests on the very same windows.

Kafka-free: the streams go straight into ``services.drift.monitor.ModelMonitor`` with the
shipped ``MonitorSettings()`` defaults. ``loadtest/bench_drift.py`` calls ``evaluate()``
and merges the figures into ``loadtest/results/drift.json``; ``python -m
loadtest.drift_quality [--quick]`` runs it alone. docs/services/drift-evaluation.md says
what the streams are and how they are scored.

Streams (seeded; every one has 20 numeric and 5 categorical features and a prediction):

* data drift: a layout of river's ``Agrawal`` (6 numeric, 3 categorical, the label used as
  the prediction), ``RandomRBF`` (14 numeric) and two skewed categoricals; the input
  distribution changes at a known event, abruptly (the stream switches) or gradually
  (river's ``ConceptDriftStream`` between the two layouts);
* control: the same layout with no change at all;
* concept drift: ``SEA``, ``Agrawal`` and ``FriedmanDrift``, whose inputs never change but
  whose labels do; a river tree trained on the first concept and then frozen predicts, and
  its outcomes go to ``observe_outcome``.

Evidently (pinned, installed into ``.cache/bench-extras-evidently`` for this benchmark only)
judges the data-drift and control streams with its default per-column test (the one its
``DataDriftPreset`` picks by reference size and column type) on the same windows as ours,
against the same reference sample.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import math
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from river import tree
from river.datasets import base, synth

from services.drift.config import MonitorSettings
from services.drift.monitor import PREDICTION_FEATURE, ModelMonitor
from services.drift.profile import Reference, build

from .harness import percentile, table

SETTINGS = MonitorSettings()  # the shipped defaults: window 1000, step 250, min 500 samples
WINDOW, STEP, MIN_SAMPLES = SETTINGS.window, SETTINGS.step, SETTINGS.min_samples
REFERENCE_EVENTS = SETTINGS.reference_events  # 5000: Evidently then picks its big-data tests
MISS_WINDOWS = 5  # no firing within this many windows of the drift is a miss
MISS_BOUND = MISS_WINDOWS * WINDOW
PRE_DRIFT = 2 * WINDOW  # full windows of the old distribution before any drift starts
GRADUAL_WIDTH = 2000  # ConceptDriftStream width: 12 % -> 88 % new from position -+ width / 2
KEY = ("quality", "1", None)
DATASET = "__dataset__"

REPO = Path(__file__).resolve().parent.parent
EXTRAS = REPO / ".cache" / "bench-extras-evidently"
# pandas 3 breaks Evidently 0.7.23's import; 2.3.3 is the newest 2.x and works.
EVIDENTLY_PINS = ("evidently==0.7.23", "pandas==2.3.3")

Alarm = tuple[int, str]  # (event index, what fired: a feature, "__dataset__" or an alertname)


# -- the 25-feature layout -------------------------------------------------------------

AGRAWAL_NUMERIC = ("salary", "commission", "age", "hvalue", "hyears", "loan")
AGRAWAL_CATEGORICAL = ("elevel", "car", "zipcode")  # integers in river, codes in real life
RBF_NUMERIC = tuple(f"rbf{i:02d}" for i in range(14))
NUMERIC = AGRAWAL_NUMERIC + RBF_NUMERIC
CATEGORICAL = (*AGRAWAL_CATEGORICAL, "channel", "country")
COLUMNS = (*NUMERIC, *CATEGORICAL, PREDICTION_FEATURE)
CHANNELS = (("web", 0.6), ("app", 0.3), ("phone", 0.1))
# 30 countries with Zipf(1.2) shares: the rarest appear a few times per 1,000 events.
COUNTRIES = tuple((f"c{k:02d}", 1.0 / k**1.2) for k in range(1, 31))
SALARY_SD = 130_000 / math.sqrt(12)  # Agrawal draws salary uniformly from 20k..150k
LOAN_SD = 500_000 / math.sqrt(12)
RBF_SD = 0.32  # measured: RandomRBF's features spread about this much


@dataclass(frozen=True)
class Shift:
    """Adds ``by`` to one numeric feature: a unit change, an inflation, a sensor offset."""

    feature: str
    by: float

    def __call__(self, x: dict[str, Any], rng: random.Random) -> None:
        x[self.feature] += self.by


@dataclass(frozen=True)
class Remap:
    """Gives ``share`` of the events the category ``value``: a shifted mix, or (for a value
    the reference never saw) a new category."""

    feature: str
    value: str
    share: float

    def __call__(self, x: dict[str, Any], rng: random.Random) -> None:
        if rng.random() < self.share:
            x[self.feature] = self.value


class Layout(base.SyntheticDataset):
    """20 numeric and 5 categorical features from river's generators, the Agrawal label
    as the model's prediction (as if the model were exact: it does not move with the
    inputs here, so a prediction-drift firing is always false).

    ``seed`` fixes the distribution (RandomRBF's centroids), ``sample`` the draws; the
    data-drift knobs are Agrawal's ``perturbation`` (noise, clipped at the ranges' ends),
    ``rbf_model`` (other centroids: every RBF feature moves) and ``change`` (a Shift or
    Remap applied to every event)."""

    def __init__(
        self,
        seed: int,
        sample: int = 0,
        perturbation: float = 0.0,
        rbf_model: int | None = None,
        change: Callable[[dict[str, Any], random.Random], None] | None = None,
    ) -> None:
        super().__init__(task=base.BINARY_CLF, n_features=len(NUMERIC) + len(CATEGORICAL))
        self.seed, self.sample, self.perturbation = seed, sample, perturbation
        self.rbf_model = seed if rbf_model is None else rbf_model
        self.change = change

    def __iter__(self) -> Iterator[tuple[dict[str, Any], int]]:
        draw = 1000 * self.seed + self.sample
        agrawal = synth.Agrawal(seed=draw, perturbation=self.perturbation)
        rbf = synth.RandomRBF(seed_model=self.rbf_model, seed_sample=draw, n_features=14)
        rng = random.Random(draw)
        channels, channel_weights = zip(*CHANNELS, strict=True)
        countries, country_weights = zip(*COUNTRIES, strict=True)
        for (a, y), (r, _) in zip(agrawal, rbf, strict=False):
            x: dict[str, Any] = {name: float(a[name]) for name in AGRAWAL_NUMERIC}
            x.update({name: r[i] for i, name in enumerate(RBF_NUMERIC)})
            x.update({name: str(a[name]) for name in AGRAWAL_CATEGORICAL})
            x["channel"] = rng.choices(channels, channel_weights)[0]
            x["country"] = rng.choices(countries, country_weights)[0]
            if self.change is not None:
                self.change(x, rng)
            yield x, y


def switch(before: Iterable, after: Iterable, at: int) -> Iterator:
    """``at`` events of ``before``, then ``after``: an abrupt drift. (river 0.26.1's
    ConceptDriftStream cannot do this: with width=1 its sigmoid overflows math.exp for
    any event more than ~177 widths before the position.)"""
    yield from itertools.islice(before, at)
    yield from after


@dataclass(frozen=True)
class DataDrift:
    """One kind of change to the inputs: which features it moves, and the Layout
    arguments that make the new distribution."""

    name: str
    drifted: tuple[str, ...]
    after: dict[str, Any]
    gradual: bool = False  # also measured as a gradual drift


DATA_DRIFTS = (
    DataDrift("loan +1 sd", ("loan",), {"change": Shift("loan", LOAN_SD)}),
    DataDrift("salary +0.5 sd", ("salary",), {"change": Shift("salary", 0.5 * SALARY_SD)}, True),
    DataDrift("rbf03 +0.25 sd", ("rbf03",), {"change": Shift("rbf03", 0.25 * RBF_SD)}),
    DataDrift("elevel: 30 % become 0", ("elevel",), {"change": Remap("elevel", "0", 0.3)}),
    DataDrift("car: new value in 10 %", ("car",), {"change": Remap("car", "21", 0.1)}),
    DataDrift("Agrawal perturbation 0.5", AGRAWAL_NUMERIC, {"perturbation": 0.5}, True),
    DataDrift("RandomRBF new centroids", RBF_NUMERIC, {"rbf_model": 10_000}, True),
)


class Events:
    """A stream's events, drawn from its generator only as far as a detector reads: both
    stop once they found the drift, mostly long before the miss bound, and river's
    Agrawal draws only ~18,000 events/s. Every reader sees the same events."""

    def __init__(self, source: Iterable, length: int) -> None:
        self.source = itertools.islice(source, length)
        self.length = length
        self.rows: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return self.length

    def upto(self, n: int) -> list[dict[str, Any]]:
        """The first ``n`` events (fewer at the end of the stream)."""
        if n > len(self.rows):
            self.rows += [_row(x, y) for x, y in itertools.islice(self.source, n - len(self.rows))]
        return self.rows[:n] if n < len(self.rows) else self.rows


@dataclass
class Stream:
    """Monitored events and what is known about them. ``drift_at`` is the first event of
    the new distribution (abrupt) or the transition's midpoint (gradual: river's
    ``position``, where half the events are new)."""

    name: str
    kind: str  # abrupt | gradual | control
    seed: int
    events: Events  # the features and the prediction of each event
    drifted: frozenset[str] = frozenset()
    drift_at: int | None = None
    width: int = 0

    @property
    def quiet_until(self) -> int:
        return bounds(self.drift_at, self.width, len(self.events))[0]

    @property
    def deadline(self) -> int:
        return bounds(self.drift_at, self.width, len(self.events))[1]

    def reference(self) -> list[dict[str, Any]]:
        return reference_rows(self.seed)


def bounds(drift_at: int | None, width: int, length: int) -> tuple[int, int]:
    """(quiet_until, deadline): a firing before quiet_until is a false alarm, a drift not
    found before the deadline is missed. Abrupt: the drift point, and MISS_BOUND after it;
    gradual: two widths before the midpoint (0.03 % of the events are new there; a model
    that makes no errors notices even that few), and MISS_BOUND after 98 % are new.

    >>> bounds(5000, 0, 9000), bounds(7000, 2000, 14000), bounds(None, 0, 800)
    ((5000, 10000), (3000, 14000), (800, 800))
    """
    if drift_at is None:
        return length, length
    return drift_at - 2 * width, drift_at + width + MISS_BOUND


def _row(x: dict[str, Any], y: Any) -> dict[str, Any]:
    return {**x, PREDICTION_FEATURE: str(y)}


def take(source: Iterable, n: int) -> list[dict[str, Any]]:
    return [_row(x, y) for x, y in itertools.islice(source, n)]


@functools.cache
def reference_rows(seed: int) -> list[dict[str, Any]]:
    """The 'training data': an independent sample of the old distribution, shared by every
    stream of a seed (read-only)."""
    return take(Layout(seed, sample=999), REFERENCE_EVENTS)


def drift_point(seed: int, gradual: bool) -> int:
    """Past a few full windows of the old distribution, at an offset that varies with the
    seed so that the drift does not always fall on the evaluation grid."""
    offset = random.Random(seed).randrange(STEP)
    return PRE_DRIFT + offset + (2 * GRADUAL_WIDTH if gradual else 0)


def data_drift_stream(drift: DataDrift, seed: int, gradual: bool, sample: int = 1) -> Stream:
    """``sample`` draws the old distribution and ``sample + 1`` the new one."""
    at = drift_point(seed, gradual)
    old, new = Layout(seed, sample), Layout(seed, sample + 1, **drift.after)
    if gradual:
        mixed = synth.ConceptDriftStream(old, new, seed=seed, position=at, width=GRADUAL_WIDTH)
        events = Events(mixed, at + GRADUAL_WIDTH + MISS_BOUND)
    else:
        events = Events(switch(old, new, at), at + MISS_BOUND)
    return Stream(
        name=drift.name,
        kind="gradual" if gradual else "abrupt",
        seed=seed,
        events=events,
        drifted=frozenset(drift.drifted),
        drift_at=at,
        width=GRADUAL_WIDTH if gradual else 0,
    )


def control_stream(seed: int, events: int) -> Stream:
    return Stream(f"control seed {seed}", "control", seed, Events(Layout(seed, 1), events))


# -- scoring -----------------------------------------------------------------------------

State = tuple[int, frozenset[str]]  # after a verdict at this event: what is drifted / firing


def rising_edges(states: Iterable[State]) -> list[Alarm]:
    """Alarms: a key entering the drifted state. Ours fires once and stays firing until
    resolved; a windowed test has no alert state, so an alerting layer on top of it would
    raise once per run of drifted windows: both are counted the same way.

    >>> rising_edges([(1, {"a"}), (2, {"a", "b"}), (3, set()), (4, {"a"})])
    [(1, 'a'), (2, 'b'), (4, 'a')]
    """
    alarms, before = [], frozenset()
    for index, keys in states:
        alarms += [(index, key) for key in sorted(set(keys) - before)]
        before = frozenset(keys)
    return alarms


@dataclass(frozen=True)
class Outcome:
    delay: int | None  # events of the new distribution seen when a drifted key was flagged
    missed: bool
    false_alarms: int  # alarms before quiet_until


def score(
    states: list[State], drift_at: int, drifted: Iterable[str], quiet_until: int, deadline: int
) -> Outcome:
    """The first verdict from ``quiet_until`` on that flags a drifted key gives the delay
    (a verdict at event ``drift_at`` itself is a delay of 1; on a gradual drift it can be
    negative: found before half the events were new); none before ``deadline`` is a miss.

    >>> states = [(10, {"x"}), (50, set()), (120, {"y"}), (130, {"a", "y"})]
    >>> score(states, 100, {"a"}, 100, 200)
    Outcome(delay=31, missed=False, false_alarms=1)
    >>> score([(250, {"a"})], 100, {"a"}, 100, 200)
    Outcome(delay=None, missed=True, false_alarms=0)
    """
    targets = set(drifted)
    false_alarms = sum(1 for index, _ in rising_edges(states) if index < quiet_until)
    for index, keys in states:
        if quiet_until <= index < deadline and targets & set(keys):
            return Outcome(index - drift_at + 1, False, false_alarms)
    return Outcome(None, True, false_alarms)


def score_stream(stream: Stream, run: Run) -> Outcome:
    if stream.drift_at is None:
        return Outcome(None, False, len(rising_edges(run.states)))
    return score(run.states, stream.drift_at, stream.drifted, stream.quiet_until, stream.deadline)


def per_100k(count: int, events: int) -> float:
    """Per 100,000 events.

    >>> per_100k(3, 600_000)
    0.5
    """
    return 100_000 * count / events if events else 0.0


def median_delay(outcomes: Iterable[Outcome]) -> float | None:
    """Over the drifts found; the misses are counted apart.

    >>> median_delay([Outcome(100, False, 0), Outcome(None, True, 0), Outcome(300, False, 0)])
    200.0
    """
    delays = [o.delay for o in outcomes if o.delay is not None]
    return float(statistics.median(delays)) if delays else None


# -- ours ------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one detector did on one stream."""

    states: list[State] = field(default_factory=list)
    events: int = 0  # events it looked at (it stops once the drift is found)
    verdicts: int = 0  # window evaluations
    seconds: float = 0.0
    how: dict[str, str] = field(default_factory=dict)  # key -> statistic or test that fired


def _record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "num_features": {name: row[name] for name in NUMERIC},
        "cat_features": {name: row[name] for name in CATEGORICAL},
        "prediction_label": row[PREDICTION_FEATURE],
        "prediction_value": None,
        "score": None,
    }


def _found(stream: Stream, keys: frozenset[str], index: int) -> bool:
    """Once a drifted key is flagged after the quiet part nothing later changes the
    outcome: both detectors stop there (Evidently's windows are not cheap)."""
    return index >= stream.quiet_until and not stream.drifted.isdisjoint(keys)


@functools.cache
def _reference(seed: int) -> Reference:
    return build(
        *KEY[:2], reference_rows(seed), source=f"seed {seed}", prediction_column=PREDICTION_FEATURE
    )


def run_ours(stream: Stream, settings: MonitorSettings = SETTINGS) -> Run:
    """Every event through observe(); evaluate() whenever it says one is due (every step,
    or sooner when a streaming detector fired). The time covers both, so a verdict's cost
    includes the per-event work between verdicts."""
    monitor = ModelMonitor(KEY, settings, _reference(stream.seed))
    run = Run()
    while run.events < len(stream.events):
        # A step's events are drawn and shaped first, outside the time measured.
        chunk = stream.events.upto(run.events + STEP)[run.events :]
        records = [_record(row) for row in chunk]
        start = time.perf_counter()
        found = _observe(monitor, records, stream, run)
        run.seconds += time.perf_counter() - start
        if found:
            break
    return run


def _observe(monitor: ModelMonitor, records: list[dict], stream: Stream, run: Run) -> bool:
    """Feeds ``records``; True (and the rest left unread) once the drift was found."""
    for record in records:
        index = run.events
        run.events += 1
        if not monitor.observe(record):
            continue
        monitor.evaluate(index)
        run.verdicts += 1
        # monitor.firing: every feature (and "__dataset__") whose alert is firing now.
        keys = frozenset(monitor.firing)
        run.states.append((index, keys))
        for key in keys - run.how.keys():
            run.how[key] = monitor.firing[key]
        if _found(stream, keys, index):
            return True
    return False


# -- Evidently -------------------------------------------------------------------------------


class Evidently:
    """Evidently's default drift test per column, exactly as its DataDriftPreset and
    ValueDrift metrics run it (``get_stattest`` with no method, then the test at its default
    threshold; ``get_one_column_drift`` does the same, plus plot data): against a
    5,000-row reference that is the normed Wasserstein distance >= 0.1 for numbers and the
    Jensen-Shannon distance >= 0.1 for categories. The whole ``Report`` is timed apart
    (``report_check``): it also draws plotly figures for every column, which costs far
    more than the tests and changes no verdict."""

    def __init__(self, modules: dict[str, Any]) -> None:
        self.pd = modules["pandas"]
        self.get_stattest = modules["registry"].get_stattest
        self.types = modules["core"].ColumnType
        self.modules = modules
        self.version = modules["evidently"].__version__

    def kind(self, column: str) -> Any:
        return self.types.Numerical if column in NUMERIC else self.types.Categorical

    @staticmethod
    def columns(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        return {
            c: np.asarray([r[c] for r in rows], dtype=float if c in NUMERIC else object)
            for c in COLUMNS
        }

    def window(self, stream: Stream, end: int) -> dict[str, np.ndarray]:
        return self.columns(stream.events.upto(end)[max(0, end - WINDOW) : end])

    def test(self, column: str, reference: Any, current: Any) -> Any:
        kind = self.kind(column)
        return self.get_stattest(reference, current, kind, None)(reference, current, kind, None)

    def verdict(self, reference: dict[str, Any], window: dict[str, np.ndarray]) -> set[str]:
        drifted = {
            column
            for column, ref in reference.items()
            if self.test(column, ref, self.pd.Series(window[column])).drifted
        }
        # Its dataset verdict, DriftedColumnsCount's default share, over the inputs as ours.
        inputs = len(drifted - {PREDICTION_FEATURE})
        if inputs >= SETTINGS.dataset_share * (len(COLUMNS) - 1):
            drifted.add(DATASET)
        return drifted

    def run(self, stream: Stream) -> Run:
        """The same windows as ours: the last WINDOW events every STEP events, from the
        first one holding MIN_SAMPLES."""
        ref = {c: self.pd.Series(v) for c, v in self.columns(stream.reference()).items()}
        run = Run()
        for end in range(MIN_SAMPLES, len(stream.events) + 1, STEP):
            window = self.window(stream, end)  # plain arrays, made outside the time measured
            start = time.perf_counter()
            keys = frozenset(self.verdict(ref, window))
            run.seconds += time.perf_counter() - start
            run.states.append((end - 1, keys))
            run.verdicts, run.events = run.verdicts + 1, end
            if _found(stream, keys, end - 1):
                break
        return run

    def report_check(self, stream: Stream, windows: int) -> tuple[float, int, int]:
        """``Report([DataDriftPreset()])`` on the first full windows of a stream: seconds
        per verdict, and how many of its column scores equal the bare tests' (all of them,
        or the comparison is not of the same tests)."""
        pd, evidently = self.pd, self.modules["evidently"]
        definition = evidently.DataDefinition(
            numerical_columns=list(NUMERIC), categorical_columns=[*CATEGORICAL, PREDICTION_FEATURE]
        )
        ref_frame = pd.DataFrame(self.columns(stream.reference()))
        reference = evidently.Dataset.from_pandas(ref_frame, data_definition=definition)
        report = evidently.Report([self.modules["presets"].DataDriftPreset()])
        seconds, matched, compared = 0.0, 0, 0
        for end in range(WINDOW, WINDOW + windows * STEP, STEP):
            frame = pd.DataFrame(self.window(stream, end))
            current = evidently.Dataset.from_pandas(frame, data_definition=definition)
            start = time.perf_counter()
            snapshot = report.run(current, reference)
            seconds += time.perf_counter() - start
            for metric in snapshot.dict()["metrics"]:
                column = metric["config"].get("column")
                if metric["config"]["type"].endswith("ValueDrift") and column in frame:
                    bare = self.test(column, ref_frame[column], frame[column]).drift_score
                    matched += math.isclose(metric["value"], bare, rel_tol=1e-9, abs_tol=1e-12)
                    compared += 1
        return seconds / windows, matched, compared


def load_evidently() -> Evidently | None:
    """Evidently from its own folder, installed there on first use, never in the project's
    venv; None (the reason printed) when it cannot be installed or imported."""
    if not (EXTRAS / "evidently").is_dir() and not _install_evidently():
        return None
    # First on the path while Evidently imports, so that its pandas 2 wins over the pandas 3
    # of another benchmark's extras; then last, so that later imports prefer the venv.
    sys.path.insert(0, str(EXTRAS))
    try:
        modules = {
            name: importlib.import_module(module)
            for name, module in (
                ("pandas", "pandas"),
                ("evidently", "evidently"),
                ("presets", "evidently.presets"),
                ("core", "evidently.legacy.core"),
                ("registry", "evidently.legacy.calculations.stattests.registry"),
            )
        }
    except Exception as exc:  # whatever breaks the import, the benchmark goes on without it
        print(f"   Evidently skipped: import failed ({type(exc).__name__}: {exc})")
        return None
    finally:
        sys.path.remove(str(EXTRAS))
        sys.path.append(str(EXTRAS))
    return Evidently(modules)


def _install_evidently() -> bool:
    print(f"   installing {' '.join(EVIDENTLY_PINS)} into {EXTRAS} (once)")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(EXTRAS),
        *EVIDENTLY_PINS,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"   Evidently skipped: pip install failed ({exc})")
        return False
    if result.returncode:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"   Evidently skipped: pip install failed ({reason})")
        return False
    return True


# -- concept drift: labels ---------------------------------------------------------------------

CONCEPT_KEYS = frozenset({"ConceptDrift", "PerformanceDegraded"})
TRAIN_EVENTS = 5000


@dataclass(frozen=True)
class Concept:
    """A generator family whose inputs stay put while P(y | x) changes: ``old(seed)`` and
    ``new(seed)`` make the two concepts' streams (``new`` None: a control), or
    ``drifting(seed, at)`` one stream that changes by itself at event ``at``."""

    name: str
    old: Callable[[int], Iterable]
    new: Callable[[int], Iterable] | None
    gradual: bool = False
    regression: bool = False
    drifting: Callable[[int, int], Iterable] | None = None


def _friedman(seed: int, at: int) -> Iterable:
    # 'gra': global recurring abrupt; it comes back at the second position, never reached.
    return synth.FriedmanDrift(drift_type="gra", position=(at, 10**9), seed=seed)


CONCEPTS = (
    Concept("SEA 0 -> 1 (-4 pts)", lambda s: synth.SEA(0, seed=s), lambda s: synth.SEA(1, seed=s)),
    Concept("SEA 0 -> 3 (-8 pts)", lambda s: synth.SEA(0, seed=s), lambda s: synth.SEA(3, seed=s)),
    Concept(
        "Agrawal f0 -> f2", lambda s: synth.Agrawal(0, seed=s), lambda s: synth.Agrawal(2, seed=s)
    ),
    Concept(
        "Agrawal f0 -> f2",
        lambda s: synth.Agrawal(0, seed=s),
        lambda s: synth.Agrawal(2, seed=s),
        gradual=True,
    ),
    # Friedman (no drift) is FriedmanDrift's first concept: the model learns it.
    Concept("FriedmanDrift gra", lambda s: synth.Friedman(seed=s), None, False, True, _friedman),
)
CONCEPT_CONTROLS = (
    Concept("SEA 0", lambda s: synth.SEA(0, seed=s), None),
    Concept("Agrawal f0", lambda s: synth.Agrawal(0, seed=s), None),
    Concept("Friedman", lambda s: synth.Friedman(seed=s), None, regression=True),
)


@dataclass
class LabelStream:
    """(prediction, truth) pairs of a frozen model: its held-out reference and production."""

    name: str
    kind: str
    regression: bool
    reference: list[tuple[Any, Any]]
    outcomes: list[tuple[Any, Any]]
    drift_at: int | None = None
    width: int = 0

    @property
    def quiet_until(self) -> int:
        return bounds(self.drift_at, self.width, len(self.outcomes))[0]


def _model(concept: Concept, seed: int) -> Any:
    """A river tree trained on the first concept, then frozen: what production runs."""
    model = tree.HoeffdingTreeRegressor() if concept.regression else tree.HoeffdingTreeClassifier()
    for x, y in itertools.islice(concept.old(1000 * seed + 7), TRAIN_EVENTS):
        model.learn_one(x, y)
    return model


def _outcomes(model: Any, source: Iterable, n: int, regression: bool) -> list[tuple[Any, Any]]:
    if regression:
        return [(float(model.predict_one(x)), float(y)) for x, y in itertools.islice(source, n)]
    return [(str(model.predict_one(x)), str(y)) for x, y in itertools.islice(source, n)]


def label_stream(concept: Concept, seed: int, events: int = 0) -> LabelStream:
    """Abrupt, gradual or (``concept.new`` None) no drift at all, of ``events`` labels."""
    model = _model(concept, seed)
    reference = _outcomes(model, concept.old(1000 * seed + 8), REFERENCE_EVENTS, concept.regression)
    at, width = drift_point(seed, concept.gradual), GRADUAL_WIDTH if concept.gradual else 0
    old = concept.old(1000 * seed + 9)
    if concept.drifting is not None:
        source, kind, events = concept.drifting(1000 * seed + 9, at), "abrupt", at + MISS_BOUND
    elif concept.new is None:
        source, kind, at, events = old, "control", None, events
    elif concept.gradual:
        source = synth.ConceptDriftStream(
            old, concept.new(1000 * seed + 10), seed=seed, position=at, width=width
        )
        kind, events = "gradual", at + width + MISS_BOUND
    else:
        source = switch(old, concept.new(1000 * seed + 10), at)
        kind, events = "abrupt", at + MISS_BOUND
    outcomes = _outcomes(model, source, events, concept.regression)
    return LabelStream(concept.name, kind, concept.regression, reference, outcomes, at, width)


def _label_settings(regression: bool) -> MonitorSettings:
    # The default concept detector, DDM, takes 0/1 errors only: on regression errors it
    # raises ValueError (math domain error) once the mean error passes 1. ADWIN it is.
    return replace(SETTINGS, concept_detector="adwin") if regression else SETTINGS


def run_labels(stream: LabelStream) -> Run:
    rows = [{"prediction": p, "label": t} for p, t in stream.reference]
    reference = build(
        *KEY[:2], rows, source=stream.name, prediction_column="prediction", label_column="label"
    )
    monitor = ModelMonitor(KEY, _label_settings(stream.regression), reference)
    run, firing = Run(), frozenset()
    start = time.perf_counter()
    for index, (predicted, actual) in enumerate(stream.outcomes):
        for finding in monitor.observe_outcome(predicted, actual):
            if finding.status == "firing":
                firing = firing | {finding.alertname}
                run.how.setdefault(finding.alertname, finding.statistic)
            else:
                firing = firing - {finding.alertname}
        run.states.append((index, firing))
        run.events = index + 1
    run.seconds = time.perf_counter() - start
    return run


def score_labels(stream: LabelStream, run: Run, keys: frozenset[str] = CONCEPT_KEYS) -> Outcome:
    if stream.drift_at is None:
        return Outcome(None, False, len(rising_edges(run.states)))
    quiet_until, deadline = bounds(stream.drift_at, stream.width, len(stream.outcomes))
    return score(run.states, stream.drift_at, keys, quiet_until, deadline)


# -- the evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    seeds: tuple[int, ...]  # every abrupt change, once per seed
    gradual_seeds: tuple[int, ...]
    control_seeds: tuple[int, ...]
    control_events: int  # per control stream
    concept_seeds: tuple[int, ...]  # every concept change, and every concept control
    concept_control_labels: int  # per concept control stream
    report_windows: int  # Report([DataDriftPreset()]) runs, for its cost and the match


FULL = Plan((1, 2, 3, 4), (1, 2), (101, 102, 103, 104), 50_000, (1, 2, 3), 10_000, 3)
QUICK = Plan((1,), (1,), (101,), 10_000, (1,), 5_000, 1)


@dataclass
class Measured:
    """One stream's outcome for ours and (None when skipped) Evidently."""

    name: str
    kind: str
    events: int
    quiet_events: int  # events before quiet_until: drift-free
    ours: Outcome
    ours_run: Run
    theirs: Outcome | None = None
    theirs_run: Run | None = None
    found_by: str | None = None  # our statistic that flagged the drift first


def _found_by(stream: Stream, run: Run, outcome: Outcome) -> str | None:
    if outcome.delay is None or stream.drift_at is None:
        return None
    index = stream.drift_at + outcome.delay - 1
    keys = next(keys for i, keys in run.states if i == index)
    return run.how.get(min(stream.drifted & keys))


def measure(stream: Stream, evidently: Evidently | None) -> Measured:
    ours = run_ours(stream)
    outcome = score_stream(stream, ours)
    quiet = min(stream.quiet_until, len(stream.events))
    found_by = _found_by(stream, ours, outcome)
    measured = Measured(
        stream.name, stream.kind, len(stream.events), quiet, outcome, ours, found_by=found_by
    )
    if evidently is not None:
        measured.theirs_run = evidently.run(stream)
        measured.theirs = score_stream(stream, measured.theirs_run)
    return measured


def data_streams(plan: Plan) -> Iterator[Stream]:
    """Made one at a time: a stream's events are dropped once it is measured."""
    # Draws of their own for every change: no two streams share drift-free events, so a
    # false alarm before a drift point is never counted twice.
    for k, drift in enumerate(DATA_DRIFTS):
        for seed in plan.seeds:
            yield data_drift_stream(drift, seed, gradual=False, sample=10 + 2 * k)
    for k, drift in enumerate(DATA_DRIFTS):
        for seed in plan.gradual_seeds if drift.gradual else ():
            yield data_drift_stream(drift, seed, gradual=True, sample=50 + 2 * k)
    for seed in plan.control_seeds:
        yield control_stream(seed, plan.control_events)


def label_streams(plan: Plan) -> Iterator[LabelStream]:
    for concept in CONCEPTS:
        for seed in plan.concept_seeds:
            yield label_stream(concept, seed)
    # Several short controls rather than one long one: a concept detector's false alarms
    # come mostly while it warms up, after every start.
    for concept in CONCEPT_CONTROLS:
        for seed in plan.concept_seeds:
            yield label_stream(concept, seed, plan.concept_control_labels)


def evaluate(quick: bool = False) -> dict[str, float | None]:
    """Runs every stream through ours (and Evidently when it loads), prints the tables and
    returns the figures (None where Evidently was skipped)."""
    plan = QUICK if quick else FULL
    started = time.perf_counter()
    evidently = load_evidently()
    measured = [measure(stream, evidently) for stream in data_streams(plan)]
    labelled = [(stream, run_labels(stream)) for stream in label_streams(plan)]
    report = None
    if evidently is not None:
        stream = control_stream(plan.control_seeds[0], WINDOW + plan.report_windows * STEP)
        report = evidently.report_check(stream, plan.report_windows)
    figures = _data_figures(measured) | _label_figures(labelled) | _report_figures(report)
    _print_data(measured, evidently, figures, report)
    _print_labels(labelled)
    figures["quality_seconds"] = time.perf_counter() - started
    print(f"   (quality evaluation took {figures['quality_seconds']:.0f} s)")
    return figures


# -- figures -------------------------------------------------------------------------------------


def _rate(runs: list[Run]) -> float:
    seconds = sum(r.seconds for r in runs)
    return sum(r.verdicts for r in runs) / seconds if seconds else 0.0


def _p90(outcomes: list[Outcome]) -> float | None:
    delays = sorted(o.delay for o in outcomes if o.delay is not None)
    return float(percentile(delays, 0.9)) if delays else None


def _side(measured: list[Measured], theirs: bool) -> dict[str, float | None]:
    """One detector's figures, named as in drift.json (Evidently's get the prefix)."""

    def of(kind: str) -> list[Outcome]:
        return [m.theirs if theirs else m.ours for m in measured if m.kind == kind]

    abrupt, gradual, control = of("abrupt"), of("gradual"), of("control")
    false_alarms = sum(o.false_alarms for o in control)
    return {
        "median_delay_events": median_delay(abrupt),
        "p90_delay_events": _p90(abrupt),
        "missed_drifts": sum(o.missed for o in abrupt + gradual),
        "abrupt_missed_drifts": sum(o.missed for o in abrupt),
        "gradual_median_delay_events": median_delay(gradual),
        "gradual_missed_drifts": sum(o.missed for o in gradual),
        "false_alarms": false_alarms,
        "false_alarms_per_100k": per_100k(false_alarms, _events(measured, "control")),
        "predrift_false_alarms": sum(o.false_alarms for o in abrupt + gradual),
        "verdicts_per_s": _rate([m.theirs_run if theirs else m.ours_run for m in measured]),
    }


def _events(measured: list[Measured], kind: str) -> int:
    return sum(m.events for m in measured if m.kind == kind)


def _data_figures(measured: list[Measured]) -> dict[str, float | None]:
    ours = _side(measured, theirs=False)
    skipped = any(m.theirs is None for m in measured)
    theirs = {k: None for k in ours} if skipped else _side(measured, theirs=True)
    ours_delay, their_delay = ours["median_delay_events"], theirs["median_delay_events"]
    return {
        "drift_streams": sum(m.kind != "control" for m in measured),
        "control_events": _events(measured, "control"),
        "predrift_events": sum(m.quiet_events for m in measured if m.kind != "control"),
        **ours,
        **{f"evidently_{k}": v for k, v in theirs.items()},
        "goal_delay_met": (
            None if ours_delay is None or their_delay is None else float(ours_delay <= their_delay)
        ),
        "goal_false_alarms_met": float(ours["false_alarms_per_100k"] <= 1.0),
    }


def _label_figures(labelled: list[tuple[LabelStream, Run]]) -> dict[str, float | None]:
    scored = [(s, score_labels(s, r)) for s, r in labelled]
    abrupt = [o for s, o in scored if s.kind == "abrupt"]
    gradual = [o for s, o in scored if s.kind == "gradual"]
    control = [(s, o) for s, o in scored if s.kind == "control"]
    labels = sum(len(s.outcomes) for s, _ in control)
    false_alarms = sum(o.false_alarms for _, o in control)
    return {
        "concept_streams": len(abrupt) + len(gradual),
        "concept_median_delay_labels": median_delay(abrupt),
        "concept_gradual_median_delay_labels": median_delay(gradual),
        "concept_missed_drifts": sum(o.missed for o in abrupt + gradual),
        "concept_predrift_false_alarms": sum(o.false_alarms for o in abrupt + gradual),
        "concept_control_labels": labels,
        "concept_false_alarms": false_alarms,
        "concept_false_alarms_per_100k_labels": per_100k(false_alarms, labels),
    }


def _report_figures(report: tuple[float, int, int] | None) -> dict[str, float | None]:
    seconds, matched, compared = report or (0.0, 0, 0)
    return {
        "evidently_report_verdicts_per_s": 1 / seconds if seconds else None,
        "evidently_report_scores_matched": matched / compared if compared else None,
    }


# -- tables --------------------------------------------------------------------------------------


def _dash(value: object) -> object:
    return "-" if value is None else value


def _tally(values: Iterable[str | None]) -> str:
    """What fired how often, most often first.

    >>> _tally(["adwin", None, "psi", "adwin"])
    'adwin 2, psi 1'
    """
    counts: dict[str, int] = {}
    for value in values:
        if value is not None:
            counts[value] = counts.get(value, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {v}" for k, v in ordered) or "-"


def _drift_row(name: str, group: list[Measured]) -> list[object]:
    ours = [m.ours for m in group]
    theirs = None if any(m.theirs is None for m in group) else [m.theirs for m in group]
    return [
        name,
        len(group),
        _dash(median_delay(ours)),
        sum(o.missed for o in ours),
        _tally(m.found_by for m in group),
        "-" if theirs is None else _dash(median_delay(theirs)),
        "-" if theirs is None else sum(o.missed for o in theirs),
    ]


def _drift_table(title: str, group: list[Measured]) -> str:
    names = dict.fromkeys(m.name for m in group)
    rows = [_drift_row(n, [m for m in group if m.name == n]) for n in names]
    rows.append(_drift_row("all", group))
    header = [
        "change",
        "streams",
        "ours: median delay",
        "missed",
        "found by",
        "Evidently: median delay",
        "missed",
    ]
    return table(title, header, rows)


def _false_row(name: str, group: list[Measured]) -> list[object]:
    """Alarms before each stream's quiet_until, ours and Evidently's, and what fired."""

    def alarms(run: Run | None, quiet: int) -> list[Alarm]:
        return [] if run is None else [a for a in rising_edges(run.states) if a[0] < quiet]

    ours = [a for m in group for a in alarms(m.ours_run, m.quiet_events)]
    theirs = [a for m in group for a in alarms(m.theirs_run, m.quiet_events)]
    skipped = any(m.theirs_run is None for m in group)
    partial = sum(1 for i, _ in theirs if i < WINDOW - 1)
    return [
        name,
        sum(m.quiet_events for m in group),
        len(ours),
        _tally(key for _, key in ours),
        "-" if skipped else len(theirs),
        "-" if skipped else partial,
        "-" if skipped else _tally(key for _, key in theirs),
    ]


def _false_table(measured: list[Measured]) -> str:
    rows = [_false_row(m.name, [m]) for m in measured if m.kind == "control"]
    for kind in ("abrupt", "gradual"):
        rows.append(
            _false_row(f"{kind} streams before the drift", [m for m in measured if m.kind == kind])
        )
    return table(
        "false alarms on drift-free events (ours: a FeatureDrift, PredictionDrift or "
        "DatasetDrift firing; Evidently: a column or the dataset turning drifted)",
        ["stream", "events", "ours", "which", "Evidently", "in the 500/750-event windows", "which"],
        rows,
    )


SUMMARY = (
    ("abrupt: median delay (events)", "median_delay_events"),
    ("abrupt: p90 delay (events)", "p90_delay_events"),
    ("abrupt: missed", "abrupt_missed_drifts"),
    ("gradual: median delay (events)", "gradual_median_delay_events"),
    ("gradual: missed", "gradual_missed_drifts"),
    ("false alarms per 100,000 control events", "false_alarms_per_100k"),
    ("false alarms before the drift points", "predrift_false_alarms"),
    ("verdicts/s (ours: with all the per-event work)", "verdicts_per_s"),
)


def _summary_table(figures: dict[str, float | None]) -> str:
    rows = [[label, _dash(figures[k]), _dash(figures[f"evidently_{k}"])] for label, k in SUMMARY]
    rows.append(
        [
            "verdicts/s, Report([DataDriftPreset()])",
            "-",
            _dash(figures["evidently_report_verdicts_per_s"]),
        ]
    )
    title = (
        f"side by side: {int(figures['drift_streams'])} drifts, "
        f"{int(figures['control_events']):,} control events"
    )
    return table(title, ["", "ours", "Evidently"], rows)


def _print_data(
    measured: list[Measured],
    evidently: Evidently | None,
    figures: dict[str, float | None],
    report: tuple[float, int, int] | None,
) -> None:
    them = f"Evidently {evidently.version}" if evidently else "Evidently (skipped)"
    print(
        _drift_table(
            f"data drift, abrupt: delay = events from the drift point to the first firing on a "
            f"moved feature; missed = none within {MISS_WINDOWS} windows ({MISS_BOUND:,} events)."
            f"\nours vs {them}: window {WINDOW}, step {STEP}, reference {REFERENCE_EVENTS:,} rows",
            [m for m in measured if m.kind == "abrupt"],
        )
    )
    print(
        _drift_table(
            f"data drift, gradual (ConceptDriftStream, width {GRADUAL_WIDTH:,}): delay from the "
            f"midpoint (negative: found before half the events were new)",
            [m for m in measured if m.kind == "gradual"],
        )
    )
    print(_false_table(measured))
    print(_summary_table(figures))
    if report is not None:
        print(f"   Report column scores equal to the bare tests': {report[1]} of {report[2]}")
    goals = {None: "not measured", 1.0: "holds", 0.0: "FAILS"}
    print(f"   goal, abrupt median delay <= Evidently's: {goals[figures['goal_delay_met']]}")
    print(
        f"   goal, <= 1 false alarm per 100,000 events: {goals[figures['goal_false_alarms_met']]}"
    )


def _label_row(name: str, kind: str, group: list[tuple[LabelStream, Run]]) -> list[object]:
    def delays(keys: frozenset[str]) -> object:
        return _dash(median_delay(score_labels(s, r, keys) for s, r in group))

    outcomes = [score_labels(s, r) for s, r in group]
    alarms = [a for s, r in group for a in rising_edges(r.states) if a[0] < s.quiet_until]
    return [
        name,
        kind,
        sum(len(s.outcomes) for s, _ in group),
        "-" if kind == "control" else delays(CONCEPT_KEYS),
        "-" if kind == "control" else delays(frozenset({"ConceptDrift"})),
        "-" if kind == "control" else delays(frozenset({"PerformanceDegraded"})),
        "-" if kind == "control" else sum(o.missed for o in outcomes),
        _tally(key for _, key in alarms),
    ]


def _print_labels(labelled: list[tuple[LabelStream, Run]]) -> None:
    groups = dict.fromkeys((s.name, s.kind) for s, _ in labelled)
    rows = [
        _label_row(name, kind, [(s, r) for s, r in labelled if (s.name, s.kind) == (name, kind)])
        for name, kind in groups
    ]
    print(
        table(
            "concept drift through labels: a river tree trained on the first concept, frozen; its "
            "outcomes into observe_outcome.\ndelay in labelled events; the false alarms are those "
            "before the drift (regression: concept_detector adwin, see _label_settings)",
            [
                "stream",
                "kind",
                "labels",
                "first alarm",
                "ConceptDrift",
                "PerformanceDegraded",
                "missed",
                "false alarms",
            ],
            rows,
        )
    )


def main(argv: list[str]) -> int:
    figures = evaluate(quick="--quick" in argv)
    for key in sorted(figures):
        print(f"   {key}: {figures[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
